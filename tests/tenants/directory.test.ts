// The platform's tenant directory (GET /api/tenants), a tenant's page as a
// platform administrator reads it, and a plan set by hand (PUT /api/tenants/:id/plan).
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makePlatformAdmin, makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';

let adminToken: string;
let ownerToken: string;
const made: Record<string, MadeTenant> = {};

async function login(host: string, email: string, password: string): Promise<string> {
  const res = await request(fx.srv.url, '/api/auth/login', { host, body: { email, password } });
  expect(res.status, res.text).toBe(200);
  return res.body.token;
}

const asAdmin = (path: string, opts: { method?: string; body?: unknown; token?: string } = {}) =>
  request(fx.srv.url, path, { host: 'saas.test', token: adminToken, ...opts });
const slugs = (body: { tenants: { slug: string }[] }) => body.tenants.map((t) => t.slug);

const fx = useTestServer();
beforeAll(async () => {
  made['alpha'] = await makeTenant(fx.db, 'alpha', { isolation: 'pooled' });
  made['bravo'] = await makeTenant(fx.db, 'bravo', { isolation: 'pooled', plan: 'pro', trial: true });
  made['charlie'] = await makeTenant(fx.db, 'charlie', { isolation: 'schema' });
  made['delta'] = await makeTenant(fx.db, 'delta', { isolation: 'pooled' });
  await fx.db.pool.query(
    `update public.tenants set status = 'suspended', suspended_at = now(), name = 'Delta 100% Corp' where slug = 'delta'`,
  );
  const ops = await makePlatformAdmin(fx.db);
  adminToken = await login('saas.test', ops.email, ops.password);
  ownerToken = await login('alpha.saas.test', made['alpha'].ownerEmail, OWNER_PASSWORD);
});

describe('GET /api/tenants', () => {
  it('lists every tenant, newest first by default, with search, filters and sort', async () => {
    const all = await asAdmin('/api/tenants');
    expect(all.status, all.text).toBe(200);
    expect(slugs(all.body)).toEqual(['delta', 'charlie', 'bravo', 'alpha']);
    expect(all.body.nextCursor).toBeNull();
    expect(all.body.tenants[0]).toMatchObject({ slug: 'delta', status: 'suspended', isolation: 'pooled', plan: 'free' });

    expect(slugs((await asAdmin('/api/tenants?sort=slug&order=asc')).body)).toEqual(['alpha', 'bravo', 'charlie', 'delta']);
    expect(slugs((await asAdmin('/api/tenants?status=suspended')).body)).toEqual(['delta']);
    expect(slugs((await asAdmin('/api/tenants?plan=pro')).body)).toEqual(['bravo']);
    expect(slugs((await asAdmin('/api/tenants?isolation=schema')).body)).toEqual(['charlie']);
    expect(slugs((await asAdmin('/api/tenants?isolation=pooled&status=active&sort=name&order=asc')).body)).toEqual(['alpha']);
    // Part of a name or slug, case-insensitive; LIKE's wildcards are taken literally.
    expect(slugs((await asAdmin('/api/tenants?q=RAV')).body)).toEqual(['bravo']);
    expect(slugs((await asAdmin(`/api/tenants?q=${encodeURIComponent('100%')}`)).body)).toEqual(['delta']);
    expect(slugs((await asAdmin('/api/tenants?q=%25')).body)).toEqual(['delta']);
    expect(slugs((await asAdmin('/api/tenants?q=nothing-like-it')).body)).toEqual([]);
  });

  it('pages by keyset: each cursor continues where the last page ended, for every sort', async () => {
    for (const sort of ['created', 'name', 'slug', 'plan', 'status']) {
      for (const order of ['asc', 'desc']) {
        const whole = slugs((await asAdmin(`/api/tenants?sort=${sort}&order=${order}`)).body);
        const paged: string[] = [];
        let cursor: string | null = null;
        do {
          const res = await asAdmin(`/api/tenants?sort=${sort}&order=${order}&limit=1${cursor ? `&cursor=${cursor}` : ''}`);
          expect(res.status, res.text).toBe(200);
          paged.push(...slugs(res.body));
          cursor = res.body.nextCursor;
        } while (cursor);
        expect(paged, `${sort} ${order}`).toEqual(whole);
      }
    }
  });

  it('refuses bad queries with the field named, members and demoted platform admins', async () => {
    const bad = await asAdmin('/api/tenants?status=sleeping');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: { issues: [expect.objectContaining({ path: 'status' })] } });
    expect((await asAdmin('/api/tenants?sort=password_hash')).status).toBe(400);
    expect((await asAdmin('/api/tenants?cursor=not-a-cursor')).body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { issues: [{ path: 'cursor', message: 'must be the nextCursor of a previous page' }] },
    });
    expect((await asAdmin('/api/tenants?unknown=1')).status).toBe(400);

    expect((await request(fx.srv.url, '/api/tenants', { host: 'saas.test' })).status).toBe(401);
    const member = await request(fx.srv.url, '/api/tenants', { host: 'alpha.saas.test', token: ownerToken });
    expect(member.status).toBe(403);

    const demoted = await makePlatformAdmin(fx.db, 'demoted@platform.example.com');
    const demotedToken = await login('saas.test', demoted.email, demoted.password);
    await fx.db.pool.query('update public.identities set is_platform_admin = false where id = $1', [demoted.id]);
    const refused = await asAdmin('/api/tenants', { token: demotedToken });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
  });
});

describe("a tenant's page for platform administrators", () => {
  it('reads the tenant and its usage, which members of other tenants cannot', async () => {
    const bravo = made['bravo']!.tenant.id;
    const tenant = await asAdmin(`/api/tenants/${bravo}`);
    expect(tenant.status, tenant.text).toBe(200);
    expect(tenant.body.tenant).toMatchObject({ id: bravo, slug: 'bravo', plan: 'pro', status: 'trial', isolation: 'pooled' });
    const usage = await asAdmin(`/api/tenants/${bravo}/usage`);
    expect(usage.status, usage.text).toBe(200);
    expect(usage.body.usage).toMatchObject({ tenantId: bravo, usersTotal: 1 });
    const report = await asAdmin(`/api/tenants/${bravo}/usage/report`);
    expect(report.status, report.text).toBe(200);

    expect((await asAdmin('/api/tenants/00000000-0000-4000-8000-000000000000')).status).toBe(404);
    expect((await asAdmin('/api/tenants/00000000-0000-4000-8000-000000000000/usage')).status).toBe(404);
    expect((await request(fx.srv.url, `/api/tenants/${bravo}`, { host: 'alpha.saas.test', token: ownerToken })).status).toBe(403);
  });

  it('PUT /api/tenants/:id/plan sets the plan without Stripe, audited as the platform admin', async () => {
    const alpha = made['alpha']!.tenant.id;
    const res = await asAdmin(`/api/tenants/${alpha}/plan`, { method: 'PUT', body: { plan: 'enterprise' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.tenant).toMatchObject({ id: alpha, plan: 'enterprise' });
    const audit = await fx.db.pool.query(
      `select actor_kind, actor_id, new_values from public.tenant_audit_logs
        where tenant_id = $1 and new_values ? 'plan' order by seq desc limit 1`,
      [alpha],
    );
    expect(audit.rows[0]).toMatchObject({ actor_kind: 'user', new_values: { plan: 'enterprise' } });

    const unknown = await asAdmin(`/api/tenants/${alpha}/plan`, { method: 'PUT', body: { plan: 'platinum' } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.details.issues).toEqual([{ path: 'plan', message: 'unknown plan' }]);
    expect((await asAdmin(`/api/tenants/${alpha}/plan`, { method: 'PUT', body: {} })).status).toBe(400);
    expect((await asAdmin('/api/tenants/00000000-0000-4000-8000-000000000000/plan', { method: 'PUT', body: { plan: 'pro' } })).status).toBe(
      404,
    );
    const owner = await request(fx.srv.url, `/api/tenants/${alpha}/plan`, {
      host: 'alpha.saas.test',
      token: ownerToken,
      method: 'PUT',
      body: { plan: 'free' },
    });
    expect(owner.status).toBe(403);
    expect((await fx.db.pool.query('select plan from public.tenants where id = $1', [alpha])).rows[0]).toEqual({ plan: 'enterprise' });
  });
});
