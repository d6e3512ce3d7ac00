// Where a new tenant goes: a platform admin's choice (REST or action), else its
// plan's placement, else DEFAULT_ISOLATION; with Hasura configured, the source
// cap and its policy. And what a pooled tenant costs: registry rows only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, passwordlessLogin, startTestServer, type TestDb } from '../support/db.ts';
import { startHasuraDouble, type HasuraDouble } from '../support/hasura-double.ts';
import { request } from '../support/http.ts';
import { until } from '../support/wait.ts';
import { makePlatformAdmin } from '../support/factories.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { asSystem } from '../../actions-server/src/db/tx.ts';
import { insertTenant, loadPlan } from '../../actions-server/src/tenants/provision.ts';
import { createTenantSchema } from '../../actions-server/src/tenants/schemas.ts';
import { loadTemplate } from '../../actions-server/src/tenants/template.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';

const ACTIONS_SECRET = 'actions-secret-0123456789abcdef';

const signupBody = (slug: string, extra: Record<string, unknown> = {}) => ({
  name: `${slug} Ltd`,
  slug,
  ownerEmail: `owner@${slug}.example.com`,
  ownerName: 'Owner',
  ownerPassword: 'securepass123',
  ...extra,
});

async function placementOf(db: TestDb, slug: string) {
  const { rows } = await db.pool.query<{
    isolation: string;
    schema_name: string | null;
    db_role: string | null;
    database_name: string | null;
  }>('select isolation, schema_name, db_role, database_name from public.tenants where slug = $1', [slug]);
  return rows[0];
}

describe('choosing the tier', () => {
  let db: TestDb;
  let srv: RunningServer;
  let adminToken: string;
  let ownerToken: string;
  let adminId: string;

  beforeAll(async () => {
    db = await createTestDb();
    srv = await startTestServer(db, { ACTIONS_SECRET });
    adminId = (await makePlatformAdmin(db)).id;
    adminToken = srv.ctx.tokens.sign({ userId: adminId, tenantId: null, role: 'platform_admin' }).token;
    const first = await request(srv.url, '/api/tenants/create', { body: signupBody('first') });
    expect(first.status, first.text).toBe(201);
    ownerToken = first.body.token;
  });
  afterAll(async () => {
    await srv?.close();
    await db?.close();
  });

  const create = (slug: string, extra: Record<string, unknown> = {}, token?: string) =>
    request(srv.url, '/api/tenants/create', { body: signupBody(slug, extra), ...(token ? { token } : {}) });

  it('is schema by default (the seeds’ default), as before', async () => {
    expect(await placementOf(db, 'first')).toMatchObject({ isolation: 'schema', schema_name: 'tenant_first' });
  });

  it('lets a platform admin choose any tier over REST', async () => {
    const pooled = await create('admin-pooled', { isolation: 'pooled' }, adminToken);
    expect(pooled.status, pooled.text).toBe(201);
    expect(pooled.body.tenant).toMatchObject({ slug: 'admin-pooled', isolation: 'pooled' });
    expect(await placementOf(db, 'admin-pooled')).toEqual({ isolation: 'pooled', schema_name: null, db_role: null, database_name: null });
    const database = await create('admin-db', { isolation: 'database' }, adminToken);
    expect(database.status, database.text).toBe(201);
    expect(await placementOf(db, 'admin-db')).toMatchObject({ isolation: 'database', database_name: `${db.rolePrefix}tenant_admin-db` });
  });

  it('refuses the choice to everyone else: 403 without a token or with a tenant token, 401 with a bad one', async () => {
    for (const [slug, token] of [
      ['anon-choice', undefined],
      ['owner-choice', ownerToken],
    ] as const) {
      const res = await create(slug, { isolation: 'pooled' }, token);
      expect(res.status, res.text).toBe(403);
      expect(res.body.error.code).toBe('FORBIDDEN');
      expect(await placementOf(db, slug)).toBeUndefined();
    }
    const bad = await create('bad-token-choice', { isolation: 'pooled' }, 'not.a.token');
    expect(bad.status).toBe(401);
    // A token of an identity that is no longer a platform admin no longer places tenants.
    await db.pool.query('update public.identities set is_platform_admin = false where id = $1', [adminId]);
    try {
      // The demotion reaches the server's access cache by notification, within the second it may take.
      await until('the demotion to be heard', async () => (await srv.ctx.access.standing(adminId, null))?.isPlatformAdmin === false, {
        timeout: 1_000,
      });
      expect((await create('demoted-choice', { isolation: 'pooled' }, adminToken)).status).toBe(403);
    } finally {
      await db.pool.query('update public.identities set is_platform_admin = true where id = $1', [adminId]);
    }
  });

  it('checks the server setting: only with isolation database, and only a TENANT_DATABASE_URL_<NAME> name', async () => {
    const without = await create('env-no-db', { databaseUrlEnv: 'TENANT_DATABASE_URL_EU' }, adminToken);
    expect(without.status).toBe(400);
    const odd = await create('env-odd', { isolation: 'database', databaseUrlEnv: 'JWT_SECRET' }, adminToken);
    expect(odd.status).toBe(400);
    expect(odd.body.error.code).toBe('VALIDATION_FAILED');
    const unknown = await create('env-unknown', { isolation: 'database', databaseUrlEnv: 'TENANT_DATABASE_URL_NOWHERE' }, adminToken);
    expect(unknown.status).toBe(400);
    for (const slug of ['env-no-db', 'env-odd', 'env-unknown']) expect(await placementOf(db, slug)).toBeUndefined();
  });

  it('lets a platform admin choose through the createTenant action, and nobody else', async () => {
    const act = (slug: string, session: Record<string, string>) =>
      request(srv.url, '/hasura/actions', {
        headers: { 'X-Actions-Secret': ACTIONS_SECRET },
        body: { action: { name: 'createTenant' }, input: { input: signupBody(slug, { isolation: 'pooled' }) }, session_variables: session },
      });
    const refused = await act('action-anon', { 'x-hasura-role': 'anonymous' });
    expect(refused.status).toBe(403);
    expect(refused.body.extensions.code).toBe('FORBIDDEN');
    const done = await act('action-pooled', { 'x-hasura-role': 'platform_admin', 'x-hasura-user-id': adminId });
    expect(done.status, done.text).toBe(200);
    expect(done.body.tenant).toMatchObject({ slug: 'action-pooled', isolation: 'pooled' });
  });

  it("follows the plan's placement when nobody chooses, and an admin's choice beats it", async () => {
    await db.pool.query(`update public.plans set placement = 'pooled' where id = 'free'`);
    try {
      expect((await create('plan-placed')).status).toBe(201);
      expect(await placementOf(db, 'plan-placed')).toMatchObject({ isolation: 'pooled' });
      expect((await create('admin-over-plan', { isolation: 'schema' }, adminToken)).status).toBe(201);
      expect(await placementOf(db, 'admin-over-plan')).toMatchObject({ isolation: 'schema' });
    } finally {
      await db.pool.query(`update public.plans set placement = null where id = 'free'`);
    }
  });

  it('falls back to DEFAULT_ISOLATION, which a plan placement beats', async () => {
    const other = await startTestServer(db, { DEFAULT_ISOLATION: 'pooled' });
    try {
      const res = await request(other.url, '/api/tenants/create', { body: signupBody('default-pooled') });
      expect(res.status, res.text).toBe(201);
      expect(await placementOf(db, 'default-pooled')).toMatchObject({ isolation: 'pooled' });
      await db.pool.query(`update public.plans set placement = 'schema' where id = 'free'`);
      try {
        expect((await request(other.url, '/api/tenants/create', { body: signupBody('plan-over-default') })).status).toBe(201);
        expect(await placementOf(db, 'plan-over-default')).toMatchObject({ isolation: 'schema' });
      } finally {
        await db.pool.query(`update public.plans set placement = null where id = 'free'`);
      }
    } finally {
      await other.close();
    }
  });

  it('refuses an unknown placement in the plans table', async () => {
    await expect(db.pool.query(`update public.plans set placement = 'cloud' where id = 'free'`)).rejects.toMatchObject({
      code: '23514',
      constraint: 'plans_placement_check',
    });
  });
});

describe('a pooled tenant is registry rows only', () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('1,000 pooled tenants add no relation to pg_class and no role', async () => {
    // Through the provisioning transaction's own code (insertTenant), with one
    // existing owner: password hashing is not what is measured here.
    const owner = (
      await db.pool.query<{ id: string }>(
        `insert into public.identities (email, name) values ('owner@many.example.com', 'Owner') returning id`,
      )
    ).rows[0]!.id;
    const deps = { env: db.env(), pool: db.pool, log: createLogger('silent') };
    const steps = await loadTemplate();
    const relations = async () => (await db.pool.query<{ oid: number }>('select oid from pg_class order by oid')).rows.map((r) => r.oid);
    const roles = async () =>
      (await db.pool.query<{ n: number }>('select count(*)::int as n from pg_roles where starts_with(rolname, $1)', [db.rolePrefix]))
        .rows[0]!.n;
    const before = { relations: await relations(), roles: await roles() };

    const slugs = Array.from({ length: 1000 }, (_, i) => `many-${i}`);
    const create = (slug: string) =>
      asSystem(db.pool, async (client) => {
        const input = createTenantSchema.parse({ ...signupBody(slug, { ownerEmail: 'owner@many.example.com' }), isolation: 'pooled' });
        const plan = await loadPlan(client, input, true);
        return insertTenant(client, deps, { input, plan, owner: { identityId: owner, name: 'Owner', email: input.ownerEmail }, steps });
      });
    for (let i = 0; i < slugs.length; i += 8) await Promise.all(slugs.slice(i, i + 8).map(create));

    expect(await relations()).toEqual(before.relations);
    expect(await roles()).toBe(before.roles);
    const { rows } = await db.pool.query(
      `select count(*)::int as tenants,
              count(*) filter (where t.isolation = 'pooled' and t.schema_name is null and t.db_role is null)::int as pooled,
              (select count(distinct m.tenant_id)::int from pooled.members m) as with_owner_row,
              (select count(*)::int from public.tenant_counters c where c.users_total = 1) as counted
         from public.tenants t`,
    );
    expect(rows[0]).toEqual({ tenants: 1000, pooled: 1000, with_owner_row: 1000, counted: 1000 });
  });
});

describe('the Hasura source cap', () => {
  let hasura: HasuraDouble;
  const SECRET = 'placement-admin-secret';
  beforeAll(async () => {
    hasura = await startHasuraDouble({ adminSecret: SECRET });
  });
  afterAll(async () => {
    await hasura?.close();
  });

  /** A database, a Hasura login of its own and a server with HASURA_MAX_TENANT_SOURCES=2 and the given policy. */
  async function capped(policy: string | undefined, hasuraOn = true) {
    const db = await createTestDb();
    const login = `${db.rolePrefix}hasura_login`;
    const tenantDbUrl = await passwordlessLogin(db, login);
    const env: Record<string, string> = { HASURA_MAX_TENANT_SOURCES: '2', ...(policy ? { HASURA_SOURCE_CAP_POLICY: policy } : {}) };
    if (hasuraOn) {
      Object.assign(env, {
        HASURA_GRAPHQL_ENDPOINT: `${hasura.url}/v1/graphql`,
        HASURA_GRAPHQL_ADMIN_SECRET: SECRET,
        HASURA_TENANT_DATABASE_URL: tenantDbUrl,
      });
    }
    const srv = await startTestServer(db, env);
    const create = (slug: string, extra: Record<string, unknown> = {}, token?: string) =>
      request(srv.url, '/api/tenants/create', { body: signupBody(slug, extra), ...(token ? { token } : {}) });
    const sources = async () =>
      (await db.pool.query<{ n: number }>('select count(*)::int as n from public.hasura_tenant_sources')).rows[0]!.n;
    return {
      db,
      srv,
      create,
      sources,
      async close() {
        await srv.close();
        await db.close();
      },
    };
  }

  it('places the third schema tenant pooled past a cap of 2 (the default policy, ARCHITECTURE.md §11)', async () => {
    const c = await capped(undefined);
    try {
      for (const slug of ['cap-one', 'cap-two']) expect((await c.create(slug)).status).toBe(201);
      const third = await c.create('cap-three');
      expect(third.status, third.text).toBe(201);
      expect(third.body.tenant.isolation).toBe('pooled');
      expect(await placementOf(c.db, 'cap-three')).toEqual({ isolation: 'pooled', schema_name: null, db_role: null, database_name: null });
      expect(await c.sources()).toBe(2);
      expect(hasura.metadata().sources.map((s) => s.name)).not.toContain('tenant_cap-three');
      // Its data works where pooled tenants' does.
      expect((await c.db.pool.query('select 1 from pooled.members where tenant_id = $1', [third.body.tenant.id])).rowCount).toBe(1);
      // A platform admin's explicit schema is not silently changed: refused instead.
      const adminId = (await makePlatformAdmin(c.db)).id;
      const token = c.srv.ctx.tokens.sign({ userId: adminId, tenantId: null, role: 'platform_admin' }).token;
      const explicit = await c.create('cap-explicit', { isolation: 'schema' }, token);
      expect(explicit.status).toBe(503);
      expect(explicit.body.error).toMatchObject({ code: 'TENANT_CAPACITY_REACHED', details: { limit: 2 } });
      expect(await placementOf(c.db, 'cap-explicit')).toBeUndefined();
    } finally {
      await c.close();
    }
  });

  it('refuses the third schema tenant with a clear error under policy refuse, leaving nothing behind', async () => {
    const c = await capped('refuse');
    try {
      for (const slug of ['ref-one', 'ref-two']) expect((await c.create(slug)).status).toBe(201);
      const third = await c.create('ref-three');
      expect(third.status).toBe(503);
      expect(third.body.error.code).toBe('TENANT_CAPACITY_REACHED');
      expect(third.body.error.message).toMatch(/GraphQL tenant limit/);
      expect(await placementOf(c.db, 'ref-three')).toBeUndefined();
      expect((await c.db.pool.query(`select 1 from pg_namespace where nspname = 'tenant_ref-three'`)).rowCount).toBe(0);
      expect((await c.db.pool.query(`select 1 from public.identities where email = 'owner@ref-three.example.com'`)).rowCount).toBe(0);
      expect(await c.sources()).toBe(2);
    } finally {
      await c.close();
    }
  });

  it('creates the third schema tenant without a source under policy skip', async () => {
    const c = await capped('skip');
    try {
      for (const slug of ['skip-one', 'skip-two', 'skip-three']) expect((await c.create(slug)).status).toBe(201);
      expect(await placementOf(c.db, 'skip-three')).toMatchObject({ isolation: 'schema', schema_name: 'tenant_skip-three' });
      expect(await c.sources()).toBe(2);
    } finally {
      await c.close();
    }
  });

  it('counts database tenants too', async () => {
    const c = await capped('pooled');
    try {
      const adminId = (await makePlatformAdmin(c.db)).id;
      const token = c.srv.ctx.tokens.sign({ userId: adminId, tenantId: null, role: 'platform_admin' }).token;
      expect((await c.create('db-one', { isolation: 'database' }, token)).status).toBe(201);
      expect((await c.create('schema-two')).status).toBe(201);
      expect(await c.sources()).toBe(2);
      const third = await c.create('schema-three');
      expect(third.body.tenant.isolation).toBe('pooled');
      const database = hasura.metadata().sources.find((s) => s.name === 'tenant_db-one');
      expect(database).toBeDefined();
    } finally {
      await c.close();
    }
  });

  it('does not apply without Hasura: no source costs anything then', async () => {
    const c = await capped(undefined, false);
    try {
      for (const slug of ['free-one', 'free-two', 'free-three']) expect((await c.create(slug)).status).toBe(201);
      expect(await placementOf(c.db, 'free-three')).toMatchObject({ isolation: 'schema' });
      expect(await c.sources()).toBe(0);
    } finally {
      await c.close();
    }
  });
});
