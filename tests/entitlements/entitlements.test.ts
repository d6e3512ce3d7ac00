// Entitlements: every feature × (plan has it, plan lacks it, override on,
// override off), seen the same through REST and through SQL as `app` and as
// `hasura`; the features that guard data are enforced by the database
// (custom_domain writes, audit_logs reads) and answered 403 FEATURE_NOT_IN_PLAN
// over REST. Platform admins set plans and overrides (REST, Hasura action, CLI),
// audited.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { runCli } from '../support/cli.ts';
import { sqlState } from '../audit/helpers.ts';
import { asPersona } from '../support/personas.ts';

const ACTIONS_SECRET = 'actions-secret-0123456789abcdef';
const FEATURES = [
  'basic',
  'analytics',
  'integrations',
  'sso',
  'audit_logs',
  'custom_domain',
  'priority_support',
  'dedicated_support',
  'sla',
];

let adminToken: string;
let adminId: string;
/** On the custom plan (every feature) and on the free plan (made to have none of them). */
let rich: MadeTenant & { token: string };
let poor: MadeTenant & { token: string };

const host = (t: MadeTenant) => `${t.tenant.slug}.saas.test`;

const fx = useTestServer({ ACTIONS_SECRET });
beforeAll(async () => {
  adminId = (
    await fx.db.pool.query<{ id: string }>(
      `insert into public.identities (email, name, is_platform_admin) values ('ops@platform.test', 'Ops', true) returning id`,
    )
  ).rows[0]!.id;
  adminToken = fx.srv.ctx.tokens.sign({ userId: adminId, tenantId: null, role: 'platform_admin' }).token;
  const withToken = (t: MadeTenant) => ({
    ...t,
    token: fx.srv.ctx.tokens.sign({ userId: t.ownerId, tenantId: t.tenant.id, role: 'owner' }).token,
  });
  rich = withToken(await makeTenant(fx.db, 'rich'));
  // The custom plan (every feature) is arranged by sales: set directly.
  await fx.db.pool.query(`update public.tenants set plan = 'custom' where id = $1`, [rich.tenant.id]);
  poor = withToken(await makeTenant(fx.db, 'poor'));
  // The free plan includes `basic`; for "the plan lacks it" it must include none of them.
  const res = await request(fx.srv.url, '/api/plans/free/entitlements', {
    method: 'PUT',
    token: adminToken,
    body: { features: { basic: false } },
  });
  expect(res.status, res.text).toBe(200);
});

const setOverrides = async (t: MadeTenant, value: boolean | null) => {
  const res = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/entitlements`, {
    method: 'PUT',
    token: adminToken,
    body: { features: Object.fromEntries(FEATURES.map((f) => [f, value])) },
  });
  expect(res.status, res.text).toBe(200);
};

/** Every feature as REST, SQL as app and SQL as hasura (a mutation session of the tenant) see it. */
async function seen(t: MadeTenant & { token: string }): Promise<Record<'rest' | 'app' | 'hasura', Record<string, boolean>>> {
  const res = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/features`, { host: host(t), token: t.token });
  expect(res.status, res.text).toBe(200);
  const rest = Object.fromEntries(FEATURES.map((f) => [f, res.body.entitlements.features[f] === true]));
  const sql = `select f, public.tenant_has_feature($1, f) as has from unnest($2::text[]) f`;
  const asMap = (rows: { f: string; has: boolean }[]) => Object.fromEntries(rows.map((r) => [r.f, r.has]));
  const app = await asPersona(fx.db.pool, { kind: 'app', tenantId: t.tenant.id }, async (c) =>
    asMap((await c.query(sql, [t.tenant.id, FEATURES])).rows),
  );
  const session = { 'x-hasura-role': 'owner', 'x-hasura-tenant-id': t.tenant.id, 'x-hasura-user-id': t.ownerId };
  const hasura = await asPersona(fx.db.pool, { kind: 'hasura', session }, async (c) =>
    asMap((await c.query(sql, [t.tenant.id, FEATURES])).rows),
  );
  return { rest, app, hasura };
}

/** Whether the guarded data follows the feature: custom_domain writes and audit_logs reads, every path. */
async function guarded(t: MadeTenant & { token: string }) {
  const put = await request(fx.srv.url, `/api/tenants/${t.tenant.id}`, {
    host: host(t),
    token: t.token,
    method: 'PUT',
    body: { customDomain: `chat.${t.tenant.slug}.example` },
  });
  if (put.status === 200) await fx.db.pool.query('update public.tenants set custom_domain = null where id = $1', [t.tenant.id]);
  const appDomain = await sqlState(
    asPersona(fx.db.pool, { kind: 'app', tenantId: t.tenant.id }, (c) =>
      c.query(`update public.tenants set custom_domain = 'sql.example.org' where id = $1`, [t.tenant.id]),
    ),
  );
  const audit = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/audit`, { host: host(t), token: t.token });
  const count = `select count(*)::int as n from public.tenant_audit_logs where tenant_id = $1`;
  const appAudit = await asPersona(
    fx.db.pool,
    { kind: 'app', tenantId: t.tenant.id },
    async (c) => (await c.query(count, [t.tenant.id])).rows[0].n as number,
  );
  // GraphQL reads carry no hasura.user: the permission filter (tenant_id) and the policy decide.
  const hasuraAudit = await asPersona(
    fx.db.pool,
    { kind: 'hasura' },
    async (c) => (await c.query(count, [t.tenant.id])).rows[0].n as number,
  );
  return {
    domainRest: put.status === 200 ? 'allowed' : `${put.status} ${put.body.error.code}`,
    domainApp: appDomain === undefined ? 'allowed' : appDomain,
    auditRest: audit.status === 200 ? 'allowed' : `${audit.status} ${audit.body.error.code}`,
    auditApp: appAudit > 0 ? 'rows' : 'none',
    auditHasura: hasuraAudit > 0 ? 'rows' : 'none',
  };
}

const ALLOWED = { domainRest: 'allowed', domainApp: 'allowed', auditRest: 'allowed', auditApp: 'rows', auditHasura: 'rows' };
const REFUSED = {
  domainRest: '403 FEATURE_NOT_IN_PLAN',
  domainApp: 'SA402',
  auditRest: '403 FEATURE_NOT_IN_PLAN',
  auditApp: 'none',
  auditHasura: 'none',
};
const all = (v: boolean) => Object.fromEntries(FEATURES.map((f) => [f, v]));

describe('every feature, every case, every path', () => {
  const cases = [
    { name: 'plan has it', tenant: () => rich, overrides: null, expected: true },
    { name: 'plan lacks it', tenant: () => poor, overrides: null, expected: false },
    { name: 'override on', tenant: () => poor, overrides: true, expected: true },
    { name: 'override off', tenant: () => rich, overrides: false, expected: false },
  ] as const;
  for (const c of cases) {
    it(c.name, async () => {
      const t = c.tenant();
      await setOverrides(t, c.overrides);
      try {
        expect(await seen(t)).toEqual({ rest: all(c.expected), app: all(c.expected), hasura: all(c.expected) });
        expect(await guarded(t)).toEqual(c.expected ? ALLOWED : REFUSED);
      } finally {
        await setOverrides(t, null);
      }
    });
  }
});

describe('refusals', () => {
  it('name the feature and the plans that include it', async () => {
    const res = await request(fx.srv.url, `/api/tenants/${poor.tenant.id}`, {
      host: host(poor),
      token: poor.token,
      method: 'PUT',
      body: { name: 'Renamed', customDomain: 'x.example.com' },
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({
      code: 'FEATURE_NOT_IN_PLAN',
      details: { feature: 'custom_domain', plan: 'free', plans: ['enterprise', 'custom'] },
    });
    // Nothing of the patch was applied.
    expect((await fx.db.pool.query('select name from public.tenants where id = $1', [poor.tenant.id])).rows[0].name).toBe('poor Inc');
    const features = await request(fx.srv.url, `/api/tenants/${poor.tenant.id}/features`, { host: host(poor), token: poor.token });
    expect(features.body.entitlements.availableIn).toMatchObject({
      custom_domain: ['enterprise', 'custom'],
      audit_logs: ['enterprise', 'custom'],
    });
  });
});

describe('platform admins', () => {
  it('set plan features and limits over REST, audited; others are refused; bad input is 400 naming the field', async () => {
    const res = await request(fx.srv.url, '/api/plans/pro/entitlements', {
      method: 'PUT',
      token: adminToken,
      body: { features: { sso: true }, limits: { max_channels: 60 } },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.plan).toMatchObject({ plan: 'pro', features: { sso: true }, limits: { max_channels: 60 } });
    const audit = await fx.db.pool.query(
      `select actor_kind, actor_id, new_values from public.platform_audit_logs where entity_id = 'pro' order by id`,
    );
    expect(audit.rows.at(-1)).toMatchObject({ actor_kind: 'user', actor_id: adminId, new_values: { max_channels: 60 } });

    expect(
      (await request(fx.srv.url, '/api/plans/pro/entitlements', { method: 'PUT', token: rich.token, body: { features: { sso: false } } }))
        .status,
    ).toBe(403);
    const bad = await request(fx.srv.url, '/api/plans/pro/entitlements', {
      method: 'PUT',
      token: adminToken,
      body: { limits: { max_channels: 'lots' } },
    });
    expect([bad.status, bad.body.error.message]).toEqual([400, expect.stringContaining('limits.max_channels')]);
    expect(
      (await request(fx.srv.url, '/api/plans/gold/entitlements', { method: 'PUT', token: adminToken, body: { features: { sso: true } } }))
        .status,
    ).toBe(404);
  });

  it("set a tenant's overrides through the Hasura action and the CLI, audited in its trail", { timeout: 180_000 }, async () => {
    const act = await request(fx.srv.url, '/hasura/actions', {
      headers: { 'X-Actions-Secret': ACTIONS_SECRET },
      body: {
        action: { name: 'setTenantEntitlements' },
        input: { tenantId: poor.tenant.id, features: { analytics: true }, limits: { max_users: 25 } },
        session_variables: { 'x-hasura-role': 'platform_admin', 'x-hasura-user-id': adminId },
      },
    });
    expect(act.status, act.text).toBe(200);
    expect(act.body).toMatchObject({ features: { analytics: true }, limits: { max_users: 25 }, overrides: { limits: { max_users: 25 } } });
    const refused = await request(fx.srv.url, '/hasura/actions', {
      headers: { 'X-Actions-Secret': ACTIONS_SECRET },
      body: {
        action: { name: 'setTenantEntitlements' },
        input: { tenantId: poor.tenant.id, features: { sso: true } },
        session_variables: { 'x-hasura-role': 'owner', 'x-hasura-tenant-id': poor.tenant.id, 'x-hasura-user-id': poor.ownerId },
      },
    });
    expect(refused.body).toMatchObject({ extensions: { code: 'FORBIDDEN' } });

    const cli = await runCli(fx.db, ['entitlements', 'tenant', 'poor', '--feature', 'analytics=default', '--limit', 'max_users=default']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ overrides: { features: {}, limits: {} }, limits: { max_users: 10 } });
    expect((await runCli(fx.db, ['entitlements', 'tenant', 'poor', '--feature', 'analytics=maybe'])).code).toBe(2);

    const trail = await fx.db.pool.query(
      `select actor_kind, actor_id from public.tenant_audit_logs where tenant_id = $1 and entity_type = 'settings' order by seq`,
      [poor.tenant.id],
    );
    expect(trail.rows).toContainEqual({ actor_kind: 'user', actor_id: adminId });
    expect(trail.rows.at(-1)).toEqual({ actor_kind: 'cli', actor_id: null });
  });
});
