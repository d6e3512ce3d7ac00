// Data exposure and defence in depth in the database: slugs that would clash
// with the platform's GraphQL names, internal tenant columns in the audit
// trail, unbounded settings, login_lookup outside the caller's tenant, and
// writes made with the `hasura` credentials recorded as admin writes.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makePlatformAdmin, makeTenant, type MadeTenant } from '../support/factories.ts';
import { auditRows, sqlState } from '../audit/helpers.ts';
import { asPersona, enterPersona } from '../support/personas.ts';
import { platformGraphqlNames } from './graphql-names.ts';

let a: MadeTenant;
let b: MadeTenant;
let ownerA: string;

const fx = useTestServer();
beforeAll(async () => {
  // Enterprise: the audit trail the tests read is a plan feature.
  a = await makeTenant(fx.db, 'sec-a', { isolation: 'pooled', plan: 'enterprise', trial: true });
  b = await makeTenant(fx.db, 'sec-b', { isolation: 'pooled' });
  ownerA = fx.srv.ctx.tokens.sign({ userId: a.ownerId, tenantId: a.tenant.id, role: 'owner' }).token;
});

describe("security item 8: slugs cannot take the platform source's GraphQL names", () => {
  it('the database keeps the same list as the metadata', async () => {
    const { rows } = await fx.db.pool.query<{ names: string[] }>('select public.platform_graphql_names() as names');
    expect([...rows[0]!.names].sort()).toEqual(await platformGraphqlNames());
  });

  it('refuses those slugs (plans, login, tenant-settings, pooled, ...) in the database, and over HTTP with 400 INVALID_SLUG', async () => {
    const clashing = ['plans', 'identities', 'memberships', 'login', 'tenant-settings', 'pooled', 'tenant-audit-logs', 'query-root'];
    const { rows } = await fx.db.pool.query<{ slug: string; reserved: boolean }>(
      'select s as slug, public.slug_is_reserved(s) as reserved from unnest($1::text[]) s',
      [[...clashing, 'acme']],
    );
    expect(Object.fromEntries(rows.map((r) => [r.slug, r.reserved]))).toEqual({
      ...Object.fromEntries(clashing.map((c) => [c, true])),
      acme: false,
    });
    const res = await request(fx.srv.url, '/api/tenants/create', {
      body: { name: 'x', slug: 'tenant-settings', ownerEmail: 'x@clash.test', ownerName: 'x', ownerPassword: 'password-123' },
    });
    expect([res.status, res.body.error?.code], res.text).toEqual([400, 'INVALID_SLUG']);
  });
});

describe('security item 9: the audit trail hides internal tenant columns', () => {
  it('tenant.created and later changes show no database placement and no Stripe ids', async () => {
    await fx.db.pool.query(
      `update public.tenants set stripe_customer_id = 'cus_secret', stripe_subscription_id = 'sub_secret' where id = $1`,
      [a.tenant.id],
    );
    const res = await request(fx.srv.url, `/api/tenants/${a.tenant.id}/audit?limit=100`, { host: 'sec-a.saas.test', token: ownerA });
    expect(res.status, res.text).toBe(200);
    const created = res.body.entries.find((e: { action: string }) => e.action === 'tenant.created');
    expect(created).toBeDefined();
    const text = JSON.stringify(res.body.entries);
    expect(text).not.toContain('cus_secret');
    expect(text).not.toContain('sub_secret');
    for (const column of ['db_role', 'schema_name', 'database_name', 'database_url_env', 'stripe_customer_id', 'stripe_subscription_id']) {
      const value = created.newValues[column];
      expect(value === null || value === '[redacted]', `${column}: ${String(value)}`).toBe(true);
    }
    const billing = (await auditRows(fx.db.pool, a.tenant.id)).filter((r) => r.new_values?.['stripe_customer_id'] != null);
    expect(billing.length).toBeGreaterThan(0);
    for (const row of billing) expect(row.new_values?.['stripe_customer_id']).toBe('[redacted]');
  });
});

describe('security item 10: settings are bounded and audited as a diff', () => {
  const put = (settings: unknown) =>
    request(fx.srv.url, `/api/tenants/${a.tenant.id}`, { method: 'PUT', host: 'sec-a.saas.test', token: ownerA, body: { settings } });

  it('refuses 0.9 MB, deep nesting and thousands of keys, naming settings; the database caps every path', async () => {
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 10; i++) deep = { nested: deep };
    const many = Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i]));
    for (const settings of [{ blob: 'x'.repeat(900_000) }, deep, many]) {
      const res = await put(settings);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.message).toMatch(/settings/);
    }
    // A GraphQL write (role hasura with the owner's session) meets the same cap in the database.
    const session = { 'x-hasura-role': 'owner', 'x-hasura-user-id': a.ownerId, 'x-hasura-tenant-id': a.tenant.id };
    const state = await sqlState(
      asPersona(fx.db.pool, { kind: 'hasura', session }, (c) =>
        c.query(`update public.tenant_settings set settings = jsonb_build_object('blob', repeat('x', 100000)) where tenant_id = $1`, [
          a.tenant.id,
        ]),
      ),
    );
    expect(state).toBe('23514');
    const { rows } = await fx.db.pool.query(`select octet_length(settings::text) as n from public.tenant_settings where tenant_id = $1`, [
      a.tenant.id,
    ]);
    expect(rows[0].n).toBeLessThan(1_000);
  });

  it('records only the keys that changed', async () => {
    expect((await put({ theme: 'dark', big: 'y'.repeat(5_000) })).status).toBe(200);
    expect((await put({ locale: 'fr' })).status).toBe(200);
    const last = (await auditRows(fx.db.pool, a.tenant.id)).filter((r) => r.action === 'settings.updated').at(-1)!;
    expect(last.old_values).toEqual({ settings: {} });
    expect(last.new_values).toEqual({ settings: { locale: 'fr' } });
  });
});

describe('security item 11: defence in depth in the database', () => {
  it("login_lookup answers only for the caller's tenant, and platform admins only to a caller without one", async () => {
    const admin = await makePlatformAdmin(fx.db, 'root@platform.test');
    const lookup = (settings: { tenantId?: string }, tenantId: string | null, email: string) =>
      asPersona(
        fx.db.pool,
        { kind: 'app', ...settings },
        async (c) => (await c.query('select * from public.login_lookup($1, $2)', [tenantId, email])).rowCount,
      );
    expect(await lookup({ tenantId: a.tenant.id }, a.tenant.id, a.ownerEmail)).toBe(1);
    expect(await lookup({ tenantId: a.tenant.id }, b.tenant.id, b.ownerEmail)).toBe(0);
    expect(await lookup({}, b.tenant.id, b.ownerEmail)).toBe(0);
    expect(await lookup({ tenantId: a.tenant.id }, null, admin.email)).toBe(0);
    expect(await lookup({}, null, admin.email)).toBe(1);
  });

  it("writes with the hasura credentials and no user session, or as Hasura's admin, are audited as admin writes", async () => {
    const before = (await auditRows(fx.db.pool, b.tenant.id)).length;
    await asPersona(
      fx.db.pool,
      // Without a session the hasura role writes nothing (its policies need a tenant or the admin role)...
      { kind: 'hasura', app: { userId: a.ownerId, actor: 'user' } },
      async (client) => {
        expect((await client.query(`update public.tenants set name = 'Console edit' where id = $1`, [b.tenant.id])).rowCount).toBe(0);
        // ...and as Hasura's admin (console, admin secret) it writes any tenant: recorded as admin, not as the user app.* names.
        await enterPersona(client, { kind: 'platformAdmin' });
        expect((await client.query(`update public.tenants set name = 'Console edit' where id = $1`, [b.tenant.id])).rowCount).toBe(1);
      },
      { commit: true },
    );
    const written = (await auditRows(fx.db.pool, b.tenant.id)).slice(before);
    expect(written.map((r) => [r.action, r.actor_kind, r.actor_role, r.actor_id])).toEqual([['tenant.updated', 'hasura', 'admin', null]]);
  });
});
