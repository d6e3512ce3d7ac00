import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { addMember, makePlatformAdmin, makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { archiveCancelledTenants, hardDeleteTenant } from '../../actions-server/src/tenants/service.ts';

let acme: MadeTenant;
let ownerToken: string;
let memberToken: string;
let adminToken: string;

async function login(host: string, email: string, password: string): Promise<string> {
  const res = await request(fx.srv.url, '/api/auth/login', { host, body: { email, password } });
  expect(res.status, res.text).toBe(200);
  return res.body.token;
}

/** Resolution is invalidated through NOTIFY: poll briefly for the new state. */
async function eventually(check: () => Promise<boolean>, ms = 1_000): Promise<void> {
  await vi.waitFor(
    async () => {
      if (!(await check())) throw new Error(`condition not met within ${ms} ms`);
    },
    { timeout: ms, interval: 20 },
  );
}

const fx = useTestServer();
beforeAll(async () => {
  acme = await makeTenant(fx.db, 'acme');
  const member = await addMember(fx.db, acme.tenant, 'member@acme.example.com', 'member');
  ownerToken = await login('acme.saas.test', acme.ownerEmail, OWNER_PASSWORD);
  memberToken = await login('acme.saas.test', member.email, member.password);
  const ops = await makePlatformAdmin(fx.db);
  adminToken = await login('saas.test', ops.email, ops.password);
});

describe('read and update', () => {
  it('members read their tenant; only owners and admins update it', async () => {
    const get = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, { host: 'acme.saas.test', token: memberToken });
    expect(get.status).toBe(200);
    expect(get.body.tenant).toMatchObject({ id: acme.tenant.id, slug: 'acme', settings: {} });

    const denied = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, {
      host: 'acme.saas.test',
      token: memberToken,
      method: 'PUT',
      body: { name: 'Member Rename' },
    });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('FORBIDDEN');

    const put = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, {
      host: 'acme.saas.test',
      token: ownerToken,
      method: 'PUT',
      body: { name: 'Acme Corporation', branding: { appName: 'Acme Chat', primaryColor: '#FF5733' }, settings: { locale: 'fr' } },
    });
    expect(put.status, put.text).toBe(200);
    expect(put.body.tenant).toMatchObject({
      name: 'Acme Corporation',
      branding: { appName: 'Acme Chat', primaryColor: '#FF5733' },
      settings: { locale: 'fr' },
    });
  });

  it('rejects invalid updates with 400', async () => {
    for (const body of [{}, { name: '' }, { branding: { primaryColor: 'red' } }, { status: 'active' }, { customDomain: 'not a domain' }]) {
      const res = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, {
        host: 'acme.saas.test',
        token: ownerToken,
        method: 'PUT',
        body,
      });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('public lookups return only public fields', async () => {
    const bySlug = await request(fx.srv.url, '/api/tenants/by-slug?slug=acme');
    expect(bySlug.status).toBe(200);
    expect(Object.keys(bySlug.body.tenant).sort()).toEqual(['branding', 'name', 'slug', 'status']);
    expect((await request(fx.srv.url, '/api/tenants/by-slug?slug=nobody')).status).toBe(404);
    expect((await request(fx.srv.url, '/api/tenants/by-slug?slug=DROP;--')).status).toBe(400);
    expect((await request(fx.srv.url, '/api/tenants/by-slug')).status).toBe(400);
  });
});

describe('custom domains', () => {
  it('resolve only once verified, and are unique', async () => {
    // Custom domains are a plan feature (tests/entitlements cover the refusal); these tenants have it.
    await fx.db.pool.query(`update public.plans set features = features || '{"custom_domain": true}'`);
    const set = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, {
      host: 'acme.saas.test',
      token: ownerToken,
      method: 'PUT',
      body: { customDomain: 'chat.acme.com' },
    });
    expect(set.status, set.text).toBe(200);
    expect(set.body.tenant).toMatchObject({ customDomain: 'chat.acme.com', customDomainVerified: false });
    expect((await request(fx.srv.url, '/api/health', { host: 'chat.acme.com' })).status).toBe(404);
    expect((await request(fx.srv.url, '/api/tenants/by-domain?domain=chat.acme.com')).status).toBe(404);

    const owner = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/verify-domain`, {
      host: 'saas.test',
      token: ownerToken,
      method: 'POST',
    });
    expect(owner.status).toBe(403);
    const verify = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/verify-domain`, {
      host: 'saas.test',
      token: adminToken,
      method: 'POST',
    });
    expect(verify.status, verify.text).toBe(200);
    await eventually(async () => (await request(fx.srv.url, '/api/health', { host: 'chat.acme.com' })).status === 200);
    const byDomain = await request(fx.srv.url, '/api/tenants/by-domain?domain=chat.acme.com');
    expect(byDomain.body.tenant.slug).toBe('acme');

    const other = await makeTenant(fx.db, 'other');
    const otherToken = await login('other.saas.test', other.ownerEmail, OWNER_PASSWORD);
    const taken = await request(fx.srv.url, `/api/tenants/${other.tenant.id}`, {
      host: 'other.saas.test',
      token: otherToken,
      method: 'PUT',
      body: { customDomain: 'chat.acme.com' },
    });
    expect(taken.status).toBe(409);
    expect(taken.body.error.code).toBe('DOMAIN_TAKEN');
    const underBase = await request(fx.srv.url, `/api/tenants/${other.tenant.id}`, {
      host: 'other.saas.test',
      token: otherToken,
      method: 'PUT',
      body: { customDomain: 'acme.saas.test' },
    });
    expect(underBase.status).toBe(400);
  });
});

describe('suspend, reactivate, cancel, archive', () => {
  it('only platform admins suspend; a suspension is seen at once through NOTIFY', async () => {
    const t = await makeTenant(fx.db, 'suspendme');
    const token = await login('suspendme.saas.test', t.ownerEmail, OWNER_PASSWORD);
    // warm the resolution cache
    expect((await request(fx.srv.url, `/api/tenants/${t.tenant.id}`, { host: 'suspendme.saas.test', token })).status).toBe(200);

    const byOwner = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/suspend`, { host: 'saas.test', token, method: 'POST' });
    expect(byOwner.status).toBe(403);
    const res = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/suspend`, { host: 'saas.test', token: adminToken, method: 'POST' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.tenant.status).toBe('suspended');

    await eventually(
      async () => (await request(fx.srv.url, `/api/tenants/${t.tenant.id}`, { host: 'suspendme.saas.test', token })).status === 403,
    );
    const refused = await request(fx.srv.url, '/api/auth/login', {
      host: 'suspendme.saas.test',
      body: { email: t.ownerEmail, password: OWNER_PASSWORD },
    });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('TENANT_SUSPENDED');

    const again = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/suspend`, {
      host: 'saas.test',
      token: adminToken,
      method: 'POST',
    });
    expect(again.status).toBe(409);

    const back = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/reactivate`, {
      host: 'saas.test',
      token: adminToken,
      method: 'POST',
    });
    expect(back.body.tenant.status).toBe('active');
    await eventually(
      async () => (await request(fx.srv.url, `/api/tenants/${t.tenant.id}`, { host: 'suspendme.saas.test', token })).status === 200,
    );
  });

  it('a change made straight in SQL reaches the cache within a second too', async () => {
    const t = await makeTenant(fx.db, 'sqlsuspend');
    expect((await request(fx.srv.url, '/api/health', { host: 'sqlsuspend.saas.test' })).body.tenant.status).toBe('active');
    await fx.db.pool.query(`update public.tenants set status = 'suspended', suspended_at = now() where id = $1`, [t.tenant.id]);
    await eventually(
      async () => (await request(fx.srv.url, '/api/health', { host: 'sqlsuspend.saas.test' })).body.tenant.status === 'suspended',
    );
  });

  it('soft delete cancels (410 afterwards) and keeps the data; archive after 90 days', async () => {
    const t = await makeTenant(fx.db, 'leaving');
    const member = await addMember(fx.db, t.tenant, 'm@leaving.example.com', 'member');
    const token = await login('leaving.saas.test', t.ownerEmail, OWNER_PASSWORD);
    const memberTok = await login('leaving.saas.test', member.email, member.password);
    expect(
      (await request(fx.srv.url, `/api/tenants/${t.tenant.id}`, { host: 'leaving.saas.test', token: memberTok, method: 'DELETE' })).status,
    ).toBe(403);

    const del = await request(fx.srv.url, `/api/tenants/${t.tenant.id}`, { host: 'leaving.saas.test', token, method: 'DELETE' });
    expect(del.status, del.text).toBe(200);
    expect(del.body.tenant.status).toBe('cancelled');
    await eventually(
      async () =>
        (
          await request(fx.srv.url, '/api/auth/login', {
            host: 'leaving.saas.test',
            body: { email: t.ownerEmail, password: OWNER_PASSWORD },
          })
        ).status === 410,
    );
    expect((await fx.db.pool.query(`select 1 from pg_namespace where nspname = 'tenant_leaving'`)).rowCount).toBe(1);

    expect(await archiveCancelledTenants(fx.db.pool)).toBe(0);
    await fx.db.pool.query(`update public.tenants set cancelled_at = now() - interval '91 days' where id = $1`, [t.tenant.id]);
    expect(await archiveCancelledTenants(fx.db.pool)).toBe(1);
    expect((await fx.db.pool.query('select status from public.tenants where id = $1', [t.tenant.id])).rows[0].status).toBe('archived');
    expect((await request(fx.srv.url, '/api/tenants/by-slug?slug=leaving')).status).toBe(404);
  });
});

describe('hard delete', () => {
  it('drops schema, role and rows', async () => {
    const t = await makeTenant(fx.db, 'goner');
    await hardDeleteTenant(fx.db.pool, t.tenant.id);
    expect((await fx.db.pool.query(`select 1 from pg_namespace where nspname = 'tenant_goner'`)).rowCount).toBe(0);
    expect((await fx.db.pool.query('select 1 from pg_roles where rolname = $1', [t.tenant.db_role])).rowCount).toBe(0);
    expect((await fx.db.pool.query('select 1 from public.tenants where id = $1', [t.tenant.id])).rowCount).toBe(0);
    expect((await fx.db.pool.query('select 1 from public.memberships where tenant_id = $1', [t.tenant.id])).rowCount).toBe(0);
    await expect(hardDeleteTenant(fx.db.pool, t.tenant.id)).rejects.toMatchObject({ code: 'SA404' });
  });

  it('refuses a tenant whose schema it did not create (e.g. a pre-existing single-tenant schema)', async () => {
    await fx.db.pool.query('create schema nchat; create table nchat.users (id uuid primary key)');
    // The documented migration path: a 'default' tenant pointing at the existing schema.
    const { rows } = await fx.db.pool.query<{ id: string }>(
      `insert into public.tenants (name, slug, isolation, schema_name, db_role)
       values ('Default', 'default', 'schema', 'nchat', 'legacy_role') returning id`,
    );
    await expect(hardDeleteTenant(fx.db.pool, rows[0]!.id)).rejects.toMatchObject({ code: 'SA409' });
    expect((await fx.db.pool.query(`select 1 from pg_tables where schemaname = 'nchat'`)).rowCount).toBe(1);
    expect((await fx.db.pool.query('select 1 from public.tenants where id = $1', [rows[0]!.id])).rowCount).toBe(1);
  });
});
