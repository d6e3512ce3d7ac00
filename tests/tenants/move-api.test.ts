// Moves through every transport (REST, the Hasura action, the CLI), their
// refusals, the freeze as every path sees it, abort, plan-following placement,
// and the Hasura sources that follow the placement (against the metadata double).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, passwordlessLogin, startTestServer, type TestDb } from '../support/db.ts';
import { startHasuraDouble, type HasuraDouble } from '../support/hasura-double.ts';
import { request } from '../support/http.ts';
import { makePlatformAdmin, makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { withTransaction, type Client } from '../../actions-server/src/db/tx.ts';
import { hasuraExposure } from '../../actions-server/src/hasura/wiring.ts';
import { abortMove } from '../../actions-server/src/tenants/move/abort.ts';
import { rebalanceCandidates, requestMove } from '../../actions-server/src/tenants/move/request.ts';
import { runMove } from '../../actions-server/src/tenants/move/run.ts';
import { type MoveDeps } from '../../actions-server/src/tenants/move/deps.ts';
import type { MoveStep } from '../../actions-server/src/tenants/move/records.ts';
import type { TenantRow } from '../../actions-server/src/tenants/records.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';
import { enterPersona } from '../support/personas.ts';
import { until } from '../support/wait.ts';

const HASURA_SECRET = 'move-admin-secret';
const ACTIONS_SECRET = 'move-actions-secret-0123456789';

let db: TestDb;
let hasura: HasuraDouble;
let srv: RunningServer;
let serverEnv: Record<string, string>;
let adminToken: string;
let adminId: string;

beforeAll(async () => {
  db = await createTestDb();
  hasura = await startHasuraDouble({ adminSecret: HASURA_SECRET });
  // Hasura's login for tenant sources (roles are cluster-wide: this file's own), NOINHERIT like hasura_tenants.
  const login = `${db.rolePrefix}hasura_login`;
  const tenantDbUrl = await passwordlessLogin(db, login);
  serverEnv = {
    HASURA_GRAPHQL_ENDPOINT: `${hasura.url}/v1/graphql`,
    HASURA_GRAPHQL_ADMIN_SECRET: HASURA_SECRET,
    HASURA_TENANT_DATABASE_URL: tenantDbUrl,
    HASURA_SOURCE_CAP_POLICY: 'refuse',
    ACTIONS_SECRET,
  };
  srv = await startTestServer(db, serverEnv);
  adminId = (await makePlatformAdmin(db)).id;
  adminToken = srv.ctx.tokens.sign({ userId: adminId, tenantId: null, role: 'platform_admin' }).token;
});
afterAll(async () => {
  await srv?.close();
  await hasura?.close();
  await db?.close();
});

const moveDeps = (): MoveDeps => ({
  env: db.env(),
  pool: db.pool,
  log: createLogger('silent'),
  databases: srv.ctx.databases,
  exposure: hasuraExposure(srv.ctx.env, db.pool, createLogger('silent'), srv.ctx.databases),
  drainMs: 50,
});

const registry = async (made: MadeTenant) =>
  (await db.pool.query<TenantRow>('select * from public.tenants where id = $1', [made.tenant.id])).rows[0]!;
const move = (made: MadeTenant, body: unknown, token = adminToken) =>
  request(srv.url, `/api/tenants/${made.tenant.id}/move`, { host: 'saas.test', token, body });
const progress = (made: MadeTenant) => request(srv.url, `/api/tenants/${made.tenant.id}/move`, { host: 'saas.test', token: adminToken });
const sourceOf = (slug: string) => hasura.metadata().sources.find((s) => s.name === `tenant_${slug}`);
const sourceUrl = (slug: string) =>
  (sourceOf(slug)?.configuration['connection_info'] as { database_url: string } | undefined)?.database_url;
const registered = async (made: MadeTenant) =>
  (await db.pool.query('select source_name from public.hasura_tenant_sources where tenant_id = $1', [made.tenant.id])).rows;

async function finished(made: MadeTenant): Promise<{ state: string; error: string | null; from: string; to: string }> {
  let last: { state: string; error: string | null; from: string; to: string } | undefined;
  await until('the move to finish', async () => {
    last = (await progress(made)).body.move;
    return last?.state === 'done' || last?.state === 'aborted';
  });
  return last!;
}

function action(name: string, input: Record<string, unknown>, session: Record<string, string>) {
  return request(srv.url, '/hasura/actions', {
    headers: { 'X-Actions-Secret': ACTIONS_SECRET },
    body: { action: { name }, input, session_variables: session, request_query: `mutation { ${name} { id } }` },
  });
}

describe('REST and the Hasura action (platform administrators)', () => {
  let mover: MadeTenant;
  beforeAll(async () => {
    mover = await makeTenant(db, 'restmove', { isolation: 'pooled' });
    await withTenantData(db, tenantPlacementOf(mover.tenant), mover.ownerId, (c) =>
      c.query(`insert into channels (name) values ('general')`),
    );
  });

  it('POST /api/tenants/:id/move answers 202 and moves in the background; a second move meanwhile is 409; its Hasura source appears', async () => {
    const res = await move(mover, { to: 'schema' });
    expect(res.status, res.text).toBe(202);
    expect(res.body.move).toMatchObject({ tenantId: mover.tenant.id, from: 'pooled', to: 'schema', state: 'capturing', finishedAt: null });
    const again = await move(mover, { to: 'database' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'CONFLICT', details: { moveId: res.body.move.id, to: 'schema' } });

    expect(await finished(mover)).toMatchObject({ state: 'done', error: null, from: 'pooled', to: 'schema' });
    expect(await registry(mover)).toMatchObject({ isolation: 'schema', status: 'active', schema_name: 'tenant_restmove' });
    expect(sourceOf('restmove')?.customization).toEqual({ root_fields: { namespace: 'restmove' }, type_names: { prefix: 'restmove_' } });
    expect(sourceUrl('restmove')).toContain(`options=-c%20role%3D${db.rolePrefix}tenant_restmove`);
    expect(await registered(mover)).toEqual([{ source_name: 'tenant_restmove' }]);
    const channels = await withTenantData(
      db,
      tenantPlacementOf(await registry(mover)),
      mover.ownerId,
      async (c) => (await c.query('select name from channels')).rows,
    );
    expect(channels).toEqual([{ name: 'general' }]);
  });

  it('the moveTenant action moves it on (platform_admin only); schema -> database swaps the source, database -> pooled drops it', async () => {
    const denied = await action(
      'moveTenant',
      { tenantId: mover.tenant.id, to: 'database' },
      { 'x-hasura-role': 'owner', 'x-hasura-user-id': mover.ownerId, 'x-hasura-tenant-id': mover.tenant.id },
    );
    expect(denied.status).toBe(403);
    expect(denied.body.extensions.code).toBe('FORBIDDEN');
    const invalid = await action(
      'moveTenant',
      { tenantId: mover.tenant.id, to: 'cluster' },
      { 'x-hasura-role': 'platform_admin', 'x-hasura-user-id': adminId },
    );
    expect(invalid.status).toBe(400);
    expect(invalid.body.extensions.code).toBe('VALIDATION_FAILED');

    const ok = await action(
      'moveTenant',
      { tenantId: mover.tenant.id, to: 'database', databaseUrlEnv: null },
      { 'x-hasura-role': 'platform_admin', 'x-hasura-user-id': adminId },
    );
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ tenantId: mover.tenant.id, from: 'schema', to: 'database', state: 'capturing', error: null });
    expect(await finished(mover)).toMatchObject({ state: 'done', to: 'database' });
    expect(await registry(mover)).toMatchObject({ isolation: 'database', database_name: `${db.rolePrefix}tenant_restmove` });
    // The same source name, now on the tenant's own database; the old schema is gone.
    expect(new URL(sourceUrl('restmove')!).pathname).toBe(`/${db.rolePrefix}tenant_restmove`);
    expect((await db.pool.query(`select 1 from pg_namespace where nspname = 'tenant_restmove'`)).rowCount).toBe(0);

    const back = await move(mover, { to: 'pooled' });
    expect(back.status).toBe(202);
    expect(await finished(mover)).toMatchObject({ state: 'done', to: 'pooled' });
    expect(sourceOf('restmove')).toBeUndefined();
    expect(await registered(mover)).toEqual([]);
    expect((await db.pool.query('select 1 from pg_database where datname = $1', [`${db.rolePrefix}tenant_restmove`])).rowCount).toBe(0);
    const channels = await withTenantData(
      db,
      tenantPlacementOf(await registry(mover)),
      mover.ownerId,
      async (c) => (await c.query('select name from channels')).rows,
    );
    expect(channels).toEqual([{ name: 'general' }]);
  });

  it('refuses: a non-platform-admin (403), no token (401), the same tier (409), an unknown tenant (404), bad input (400), a suspended tenant (409)', async () => {
    const t = await makeTenant(db, 'refusals');
    const ownerToken = srv.ctx.tokens.sign({ userId: t.ownerId, tenantId: t.tenant.id, role: 'owner' }).token;
    const asOwner = await request(srv.url, `/api/tenants/${t.tenant.id}/move`, {
      host: 'refusals.saas.test',
      token: ownerToken,
      body: { to: 'pooled' },
    });
    expect(asOwner.status).toBe(403);
    expect((await move(t, { to: 'pooled' }, ownerToken)).body.error.code).toBe('FORBIDDEN');
    expect((await request(srv.url, `/api/tenants/${t.tenant.id}/move`, { host: 'saas.test', body: { to: 'pooled' } })).status).toBe(401);

    const same = await move(t, { to: 'schema' });
    expect(same.status).toBe(409);
    expect(same.body.error).toMatchObject({ code: 'CONFLICT', details: { isolation: 'schema' } });
    const unknown = await request(srv.url, '/api/tenants/00000000-0000-4000-8000-000000000000/move', {
      host: 'saas.test',
      token: adminToken,
      body: { to: 'pooled' },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('TENANT_NOT_FOUND');
    expect(
      (await request(srv.url, '/api/tenants/not-a-uuid/move', { host: 'saas.test', token: adminToken, body: { to: 'pooled' } })).status,
    ).toBe(404);
    expect((await move(t, { to: 'cluster' })).status).toBe(400);
    expect((await move(t, { to: 'schema', databaseUrlEnv: 'TENANT_DATABASE_URL_EU' })).body.error.code).toBe('VALIDATION_FAILED');
    const noServer = await move(t, { to: 'database', databaseUrlEnv: 'TENANT_DATABASE_URL_EU' });
    expect(noServer.status).toBe(400);
    expect(noServer.body.error.message).toMatch(/TENANT_DATABASE_URL_EU is not configured/);

    await db.pool.query(`update public.tenants set status = 'suspended' where id = $1`, [t.tenant.id]);
    expect((await move(t, { to: 'pooled' })).status).toBe(409);
    // Nothing was recorded by any refusal.
    expect((await db.pool.query('select 1 from public.tenant_moves where tenant_id = $1', [t.tenant.id])).rowCount).toBe(0);
    expect((await progress(t)).status).toBe(404);
  });

  it('past the Hasura source cap a pooled tenant does not move out (policy refuse: 503 TENANT_CAPACITY_REACHED)', async () => {
    const t = await makeTenant(db, 'capped', { isolation: 'pooled' });
    const n = (await db.pool.query<{ n: number }>('select count(*)::int as n from public.hasura_tenant_sources')).rows[0]!.n;
    const full = await startTestServer(db, { ...serverEnv, HASURA_MAX_TENANT_SOURCES: String(n) });
    try {
      const token = full.ctx.tokens.sign({ userId: adminId, tenantId: null, role: 'platform_admin' }).token;
      const res = await request(full.url, `/api/tenants/${t.tenant.id}/move`, { host: 'saas.test', token, body: { to: 'schema' } });
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: 'TENANT_CAPACITY_REACHED', details: { limit: n } });
      expect((await db.pool.query('select 1 from public.tenant_moves where tenant_id = $1', [t.tenant.id])).rowCount).toBe(0);
    } finally {
      await full.close();
    }
  });
});

describe('the freeze, as every path sees it', () => {
  it('while frozen: REST writes 503 + Retry-After, REST reads and logins served; the database refuses the tenant role, app and hasura (SA503)', async () => {
    const t = await makeTenant(db, 'frozen');
    const host = 'frozen.saas.test';
    const ownerToken = srv.ctx.tokens.sign({ userId: t.ownerId, tenantId: t.tenant.id, role: 'owner' }).token;
    const checks: string[] = [];

    const atFreeze = (check: () => Promise<void>) => async (step: MoveStep) => {
      if (step !== 'switching') return;
      await until('the resolver to see the freeze', async () => (await srv.ctx.resolver.byId(t.tenant.id))?.status === 'migrating');
      await check();
    };

    // schema -> pooled, held while frozen.
    const first = await requestMove(moveDeps(), t.tenant.id, { to: 'pooled' });
    await runMove(moveDeps(), first.id, {
      onStep: atFreeze(async () => {
        const put = await request(srv.url, `/api/tenants/${t.tenant.id}`, {
          host,
          token: ownerToken,
          method: 'PUT',
          body: { name: 'Renamed' },
        });
        expect(put.status).toBe(503);
        expect(put.headers['retry-after']).toBe('1');
        expect(put.body.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', details: { reason: 'tenant_moving' } });
        const get = await request(srv.url, `/api/tenants/${t.tenant.id}`, { host, token: ownerToken });
        expect(get.status).toBe(200);
        expect(get.body.tenant.status).toBe('migrating');
        expect((await request(srv.url, '/api/auth/login', { host, body: { email: t.ownerEmail, password: OWNER_PASSWORD } })).status).toBe(
          200,
        );
        // The tenant's own role (what its Hasura source connects as).
        const role = t.tenant.db_role!;
        await expect(
          withTransaction(db.pool, async (c) => {
            await enterPersona(c, { kind: 'tenant', dbRole: role });
            await c.query(`insert into tenant_frozen.channels (name) values ('late')`);
          }),
        ).rejects.toMatchObject({ code: 'SA503' });
        expect(
          await withTransaction(db.pool, async (c) => {
            await enterPersona(c, { kind: 'tenant', dbRole: role });
            return (await c.query('select count(*)::int as n from tenant_frozen.members')).rows[0].n;
          }),
        ).toBe(1);
        checks.push('schema source');
      }),
    });
    expect(await registry(t)).toMatchObject({ isolation: 'pooled', status: 'active', name: 'frozen Inc' });

    // pooled -> schema, held while frozen: Hasura mutations (hasura.user) and app are refused by the database.
    const second = await requestMove(moveDeps(), t.tenant.id, { to: 'schema' });
    const session = { 'x-hasura-role': 'owner', 'x-hasura-tenant-id': t.tenant.id, 'x-hasura-user-id': t.ownerId };
    await runMove(moveDeps(), second.id, {
      onStep: atFreeze(async () => {
        await expect(
          withTransaction(db.pool, async (c: Client) => {
            await enterPersona(c, { kind: 'hasura', session });
            await c.query(`insert into pooled.channels (tenant_id, name) values ($1, 'from graphql')`, [t.tenant.id]);
          }),
        ).rejects.toMatchObject({ code: 'SA503' });
        await expect(
          withTenantData(db, tenantPlacementOf(await registry(t)), t.ownerId, (c) => c.query(`delete from members`)),
        ).rejects.toMatchObject({ code: 'SA503' });
        checks.push('pooled source');
      }),
    });
    expect(checks).toEqual(['schema source', 'pooled source']);
    expect(await registry(t)).toMatchObject({ isolation: 'schema', status: 'active' });
    // Writable again, in the new placement.
    const put = await request(srv.url, `/api/tenants/${t.tenant.id}`, { host, token: ownerToken, method: 'PUT', body: { name: 'Thawed' } });
    expect(put.status, put.text).toBe(200);
    await withTenantData(db, tenantPlacementOf(await registry(t)), t.ownerId, (c) =>
      c.query(`insert into channels (name) values ('after')`),
    );
  });
});

describe('abort and plan-following placement', () => {
  it('an aborted move leaves the tenant where it was and drops the half-built target', async () => {
    const t = await makeTenant(db, 'aborter', { isolation: 'pooled' });
    await withTenantData(db, tenantPlacementOf(t.tenant), t.ownerId, (c) => c.query(`insert into channels (name) values ('kept')`));
    const m = await requestMove(moveDeps(), t.tenant.id, { to: 'database' });
    expect(await registered(t)).toEqual([{ source_name: 'tenant_aborter' }]); // its future source's slot
    await expect(
      runMove(moveDeps(), m.id, {
        onStep: (step) => {
          if (step === 'syncing') throw new Error('operator interrupt');
        },
      }),
    ).rejects.toThrow('operator interrupt');
    const database = `${db.rolePrefix}tenant_aborter`;
    expect((await db.pool.query('select 1 from pg_database where datname = $1', [database])).rowCount).toBe(1);

    const aborted = await abortMove(moveDeps(), m.id, { kind: 'cli' });
    expect(aborted).toMatchObject({ state: 'aborted', error: 'aborted by an operator' });
    expect(await registry(t)).toMatchObject({ isolation: 'pooled', status: 'active' });
    const gone = (
      await db.pool.query(
        `select (select count(*)::int from pg_database where datname = $2) as databases,
                (select count(*)::int from pg_roles where rolname = $2) as roles,
                (select count(*)::int from public.tenant_write_guards where tenant_id = $1) as guards,
                (select count(*)::int from public.hasura_tenant_sources where tenant_id = $1) as sources`,
        [t.tenant.id, database],
      )
    ).rows[0];
    expect(gone).toEqual({ databases: 0, roles: 0, guards: 0, sources: 0 });
    const names = await withTenantData(db, tenantPlacementOf(t.tenant), t.ownerId, async (c) => {
      await c.query(`insert into channels (name) values ('still writable')`);
      return (await c.query('select name from channels order by name')).rows.map((r) => r.name);
    });
    expect(names).toEqual(['kept', 'still writable']);
    // Aborted moves are finished: a new one may start.
    expect((await requestMove(moveDeps(), t.tenant.id, { to: 'schema' })).state).toBe('capturing');
    await abortMove(moveDeps(), (await progress(t)).body.move.id);
    const audit = (
      await db.pool.query(`select action from public.tenant_audit_logs where tenant_id = $1 and entity_type = 'tenant_move' order by seq`, [
        t.tenant.id,
      ])
    ).rows.map((r) => r.action);
    expect(audit.filter((a) => a === 'tenant_move.requested')).toHaveLength(2);
    expect(audit).toContain('tenant_move.state_changed');
  });

  it('npm run cli -- tenants rebalance moves tenants whose plan places them elsewhere', async () => {
    const t = await makeTenant(db, 'planner', { plan: 'enterprise', trial: true });
    const staying = await makeTenant(db, 'stayer', { plan: 'pro', trial: true });
    expect(await rebalanceCandidates(db.pool)).toEqual([]);
    await db.pool.query(`update public.plans set placement = 'pooled' where id = 'enterprise'`);
    try {
      expect((await rebalanceCandidates(db.pool)).map((c) => [c.slug, c.from, c.to])).toEqual([['planner', 'schema', 'pooled']]);
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'actions-server/src/cli/main.ts', 'tenants', 'rebalance', '--drain-ms', '0'],
        {
          env: {
            ...process.env,
            ...serverEnv,
            DATABASE_URL: db.url,
            TENANT_ROLE_PREFIX: db.rolePrefix,
            LOG_LEVEL: 'error',
            DB_POOL_MAX: '4',
            NODE_ENV: 'test',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code, out).toBe(0);
      expect(out).toMatch(/planner: schema -> pooled done/);
      expect(await registry(t)).toMatchObject({ isolation: 'pooled', status: 'trial' });
      expect(await registry(staying)).toMatchObject({ isolation: 'schema' });
      expect(sourceOf('planner')).toBeUndefined();
      expect(await rebalanceCandidates(db.pool)).toEqual([]);
    } finally {
      await db.pool.query(`update public.plans set placement = null where id = 'enterprise'`);
    }
  });
});
