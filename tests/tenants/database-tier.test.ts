// The database tier: a dedicated database per tenant, built from the same
// template (on this server, or on the server a TENANT_DATABASE_URL_<NAME>
// setting names), served through a bounded set of pools, kept in step with the
// main registry, and removed without a trace on failure or hard delete.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, useTestDb } from '../support/db.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { loadConfig } from '../../actions-server/src/core/config.ts';
import { TenantDatabases } from '../../actions-server/src/tenants/databases.ts';
import { withRegistryAndData, withTenantData } from '../../actions-server/src/tenants/data.ts';
import { provisionTenant } from '../../actions-server/src/tenants/provision.ts';
import { createTenantSchema } from '../../actions-server/src/tenants/schemas.ts';
import { hardDeleteTenant } from '../../actions-server/src/tenants/service.ts';
import { migrateTenantSchemas } from '../../actions-server/src/tenants/template-migrate.ts';
import { TEMPLATE_DIR } from '../../actions-server/src/tenants/template.ts';
import { listMigrations } from '../../actions-server/src/db/migrate.ts';
import type { TenantRow } from '../../actions-server/src/tenants/records.ts';
import { databaseRefOf, tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';

const fx = useTestDb();

/** One query as the owner in a tenant's own database. */
async function inTenantDb<T extends pg.QueryResultRow>(t: TenantRow, sql: string, params: unknown[] = [], databases = fx.db.databases) {
  const client = new pg.Client({ connectionString: databases.databaseUrl(databaseRefOf(t)) });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function footprint(slug: string) {
  const n = async (sql: string, params: unknown[]) => (await fx.db.pool.query(sql, params)).rowCount;
  return {
    tenants: await n('select 1 from public.tenants where slug = $1', [slug]),
    identities: await n('select 1 from public.identities where email = $1', [`owner@${slug}.example.com`]),
    databases: await n('select 1 from pg_database where datname = $1', [`${fx.db.rolePrefix}tenant_${slug}`]),
    roles: await n('select 1 from pg_roles where rolname = $1', [`${fx.db.rolePrefix}tenant_${slug}`]),
  };
}

describe('a database tenant', () => {
  let big: MadeTenant;
  beforeAll(async () => {
    big = await makeTenant(fx.db, 'bigco', { isolation: 'database' });
  });

  it('gets a database of its own: every platform migration, its registry copy, its schema from the template', async () => {
    expect(big.tenant).toMatchObject({
      isolation: 'database',
      database_name: `${fx.db.rolePrefix}tenant_bigco`,
      database_url_env: null,
      schema_name: 'tenant_bigco',
      db_role: `${fx.db.rolePrefix}tenant_bigco`,
      template_version: '1',
    });
    // Nothing of it in the main database but registry rows.
    expect((await fx.db.pool.query(`select 1 from pg_namespace where nspname = 'tenant_bigco'`)).rowCount).toBe(0);

    const tables = await inTenantDb<{ tablename: string }>(
      big.tenant,
      `select tablename from pg_tables where schemaname = 'tenant_bigco' order by 1`,
    );
    expect(tables.map((r) => r.tablename)).toEqual(['channels', 'files', 'members', 'messages']);
    expect(await inTenantDb(big.tenant, 'select email from tenant_bigco.members')).toEqual([{ email: 'owner@bigco.example.com' }]);
    const migrations = await inTenantDb<{ version: string }>(big.tenant, 'select version::text from public.schema_migrations order by 1');
    expect(migrations.map((m) => m.version)).toEqual((await listMigrations()).map((m) => m.version.toString()));
    expect(await inTenantDb(big.tenant, 'select id, plan, isolation, template_version from public.tenants')).toEqual([
      { id: big.tenant.id, plan: 'free', isolation: 'database', template_version: '1' },
    ]);
    // Only the owner connects: the database carries its tenant's mark and no CONNECT for PUBLIC.
    const { rows } = await fx.db.pool.query(
      `select shobj_description(oid, 'pg_database') as mark, has_database_privilege('public', oid, 'connect') as public_connect
       from pg_database where datname = $1`,
      [big.tenant.database_name],
    );
    expect(rows).toEqual([{ mark: `tenant:${big.tenant.id}`, public_connect: false }]);
  });

  it('serves its data in its own database, as its own role, with unqualified SQL', async () => {
    const seen = await withTenantData(fx.db, tenantPlacementOf(big.tenant), big.ownerId, async (c) => {
      await c.query(`insert into channels (name) values ('general')`);
      return (await c.query('select current_database() as db, current_user as role, (select count(*)::int from channels) as channels'))
        .rows[0];
    });
    expect(seen).toEqual({ db: big.tenant.database_name, role: big.tenant.db_role, channels: 1 });
    // Counted where its triggers run: the tenant database's own counters.
    expect(await inTenantDb(big.tenant, 'select users_total, channels_total from public.tenant_counters')).toEqual([
      { users_total: '1', channels_total: '1' },
    ]);
  });

  it('undoes its committed data work when the registry transaction then fails to commit', async () => {
    const attempt = withRegistryAndData(
      fx.db,
      tenantPlacementOf(big.tenant),
      { userId: big.ownerId },
      // A deferred unique violation: the registry transaction fails only at its commit.
      async (c) => {
        await c.query('create temporary table boom (id int unique deferrable initially deferred) on commit drop');
        await c.query('insert into boom values (1), (1)');
      },
      async (c) => (await c.query<{ id: string }>(`insert into channels (name) values ('half-done') returning id`)).rows[0]!.id,
      async (c, id) => {
        await c.query('delete from channels where id = $1', [id]);
      },
    );
    await expect(attempt).rejects.toThrow(/duplicate key/);
    expect(await inTenantDb(big.tenant, `select 1 from tenant_bigco.channels where name = 'half-done'`)).toEqual([]);
  });

  it('needs the database pools: a bare main pool refuses it', async () => {
    await expect(withTenantData(fx.db.pool, tenantPlacementOf(big.tenant), big.ownerId, () => Promise.resolve(1))).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
  });

  it('is upgraded by the template migration, which records the version in its database first', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'template-'));
    try {
      await cp(path.join(TEMPLATE_DIR, '0001_init.sql'), path.join(dir, '0001_init.sql'));
      await writeFile(path.join(dir, '0002_topics.sql'), 'alter table channels add column topic text;\n');
      // As if a run had died after the tenant database committed: only the main registry lags.
      const report = await migrateTenantSchemas({ pool: fx.db.pool, databases: fx.db.databases, concurrency: 2, templateDir: dir });
      expect(report.failed).toEqual([]);
      expect(report.upgraded).toContain('bigco');
      await fx.db.pool.query('update public.tenants set template_version = 1 where id = $1', [big.tenant.id]);
      const again = await migrateTenantSchemas({ pool: fx.db.pool, databases: fx.db.databases, concurrency: 2, templateDir: dir });
      expect(again).toMatchObject({ failed: [], upgraded: ['bigco'] });
      expect((await fx.db.pool.query('select template_version from public.tenants where id = $1', [big.tenant.id])).rows).toEqual([
        { template_version: '2' },
      ]);
      expect(
        await inTenantDb(
          big.tenant,
          `select column_name from information_schema.columns where table_schema = 'tenant_bigco' and table_name = 'channels' and column_name = 'topic'`,
        ),
      ).toEqual([{ column_name: 'topic' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the registry copy in a tenant database', () => {
  it('ends on the last of many quick changes: a copy that read the registry earlier never lands later', async () => {
    const srv = await startTestServer(fx.db);
    try {
      const made = await makeTenant(fx.db, 'quick-changes', { isolation: 'database' });
      const databases = srv.ctx.databases;
      await withTenantData({ pool: fx.db.pool, databases }, tenantPlacementOf(made.tenant), made.ownerId, (c) => c.query('select 1'));
      // Each change notifies, and every notification asks for a copy while others are still running.
      for (let n = 1; n <= 25; n++) {
        await fx.db.pool.query(
          `update public.tenant_settings set limit_overrides = jsonb_build_object('max_channels', $2::int) where tenant_id = $1`,
          [made.tenant.id, n],
        );
      }
      // Queued behind every copy already asked for: when it is done, they all are.
      await databases.syncRegistry(made.tenant.id);
      expect(await inTenantDb(made.tenant, 'select limit_overrides from public.tenant_settings', [], databases)).toEqual([
        { limit_overrides: { max_channels: 25 } },
      ]);
    } finally {
      await srv.close();
    }
  });

  it('follows plan and override changes made in the main registry (tenant_changed)', async () => {
    const srv = await startTestServer(fx.db);
    try {
      const made = await makeTenant(fx.db, 'follower', { isolation: 'database' });
      const databases = srv.ctx.databases;
      // The server has the tenant's pool open (it serves it) ...
      await withTenantData({ pool: fx.db.pool, databases }, tenantPlacementOf(made.tenant), made.ownerId, (c) => c.query('select 1'));
      // ... so a plan change and an override in the main registry reach the copy its triggers read.
      await fx.db.pool.query(`update public.tenants set plan = 'pro' where id = $1`, [made.tenant.id]);
      await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{"max_channels": 7}' where tenant_id = $1`, [
        made.tenant.id,
      ]);
      await vi.waitFor(
        async () =>
          expect(
            await inTenantDb(
              made.tenant,
              'select t.plan, s.limit_overrides from public.tenants t join public.tenant_settings s on s.tenant_id = t.id',
              [],
              databases,
            ),
          ).toEqual([{ plan: 'pro', limit_overrides: { max_channels: 7 } }]),
        { timeout: 10_000, interval: 50 },
      );
    } finally {
      await srv.close();
    }
  });

  it('is written again whenever a process opens the pool (changes made while nobody listened)', async () => {
    const made = await makeTenant(fx.db, 'sleeper', { isolation: 'database' });
    await fx.db.pool.query(`update public.tenants set plan = 'enterprise' where id = $1`, [made.tenant.id]);
    expect(await inTenantDb(made.tenant, 'select plan from public.tenants')).toEqual([{ plan: 'free' }]);
    const fresh = new TenantDatabases({
      mainUrl: fx.db.url,
      mainPool: fx.db.pool,
      servers: {},
      poolSize: 2,
      maxPools: 4,
      idleMs: 60_000,
      log: createLogger('silent'),
    });
    try {
      await withTenantData({ pool: fx.db.pool, databases: fresh }, tenantPlacementOf(made.tenant), made.ownerId, (c) =>
        c.query('select 1'),
      );
    } finally {
      await fresh.close();
    }
    expect(await inTenantDb(made.tenant, 'select plan from public.tenants')).toEqual([{ plan: 'enterprise' }]);
  });
});

describe('pools', () => {
  it('are opened on demand, bounded in number, and closed when idle', async () => {
    const [one, two] = [
      await makeTenant(fx.db, 'pool-one', { isolation: 'database' }),
      await makeTenant(fx.db, 'pool-two', { isolation: 'database' }),
    ];
    const databases = new TenantDatabases({
      mainUrl: fx.db.url,
      mainPool: fx.db.pool,
      servers: {},
      poolSize: 2,
      maxPools: 1,
      idleMs: 60_000,
      log: createLogger('silent'),
    });
    try {
      expect(databases.openPools()).toBe(0);
      const dbOf = (t: MadeTenant) =>
        withTenantData(
          { pool: fx.db.pool, databases },
          tenantPlacementOf(t.tenant),
          t.ownerId,
          async (c) => (await c.query('select current_database() as d')).rows[0].d,
        );
      expect(await dbOf(one)).toBe(one.tenant.database_name);
      expect(databases.openPools()).toBe(1);
      // At the bound, the idle pool of `one` makes room for `two`.
      expect(await dbOf(two)).toBe(two.tenant.database_name);
      expect(databases.openPools()).toBe(1);
      // While `two` is busy, there is no room for `one`: 503 with Retry-After, not an unbounded pool.
      let release!: () => void;
      const busy = withTenantData(
        { pool: fx.db.pool, databases },
        tenantPlacementOf(two.tenant),
        two.ownerId,
        () => new Promise<void>((r) => (release = r)),
      );
      await vi.waitFor(() => expect(release).toBeDefined());
      await expect(dbOf(one)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE', headers: { 'Retry-After': '1' } });
      release();
      await busy;
      // Idle past TENANT_DB_POOL_IDLE_MS: closed (the clock is passed in, no waiting).
      expect(databases.closeIdle(Date.now() + 60_000)).toBe(1);
      expect(databases.openPools()).toBe(0);
    } finally {
      await databases.close();
    }
  });
});

describe('on another server', () => {
  // The setting names a server; here it is this one, reached through the setting's URL.
  const SETTING = 'TENANT_DATABASE_URL_EU';
  let eu: TenantDatabases;
  beforeAll(() => {
    eu = new TenantDatabases({
      mainUrl: fx.db.url,
      mainPool: fx.db.pool,
      servers: { [SETTING]: fx.db.adminUrl },
      poolSize: 2,
      maxPools: 4,
      idleMs: 60_000,
      log: createLogger('silent'),
    });
  });
  afterAll(async () => {
    await eu?.close();
  });

  const signUp = (slug: string, databaseUrlEnv: string, databases = eu) =>
    provisionTenant(
      { env: fx.db.env({ [SETTING]: fx.db.adminUrl }), pool: fx.db.pool, log: createLogger('silent'), databases },
      createTenantSchema.parse({
        name: `${slug} Ltd`,
        slug,
        ownerEmail: `owner@${slug}.example.com`,
        ownerName: 'Owner',
        ownerPassword: 'securepass123',
        isolation: 'database',
        databaseUrlEnv,
      }),
      { platformAdmin: true },
    );

  it('keeps the setting’s name in the registry, never its URL, and is served through it', async () => {
    const { tenant, ownerId } = await signUp('remote', SETTING);
    expect(tenant).toMatchObject({ database_url_env: SETTING, database_name: `${fx.db.rolePrefix}tenant_remote` });
    const row = (await fx.db.pool.query<{ row: string }>('select t::text as row from public.tenants t where id = $1', [tenant.id])).rows[0]!
      .row;
    expect(row).not.toMatch(/postgres(ql)?:\/\//);
    const seen = await withTenantData(
      { pool: fx.db.pool, databases: eu },
      tenantPlacementOf(tenant),
      ownerId,
      async (c) => (await c.query('select count(*)::int as n from members')).rows[0].n,
    );
    expect(seen).toBe(1);
    // Without the setting, this process cannot reach it (and says which setting is missing).
    await expect(withTenantData(fx.db, tenantPlacementOf(tenant), ownerId, () => Promise.resolve(1))).rejects.toThrow(
      /TENANT_DATABASE_URL_EU is not set/,
    );
    await hardDeleteTenant(fx.db.pool, tenant.id, {}, [(id) => eu.dropFor(id)]);
    expect(await footprint('remote')).toMatchObject({ tenants: 0, databases: 0, roles: 0 });
  });

  it('refuses a setting that is not configured, before writing anything', async () => {
    await expect(signUp('nowhere', 'TENANT_DATABASE_URL_MARS')).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await footprint('nowhere')).toEqual({ tenants: 0, identities: 0, databases: 0, roles: 0 });
  });
});

describe('nothing half-done', () => {
  it('a step failing after CREATE DATABASE: no database, role, registry row or identity remains', async () => {
    const boom = { name: 'boom', run: async () => Promise.reject(new Error('metadata unreachable')) };
    await expect(makeTenant(fx.db, 'halfway', { isolation: 'database', steps: [boom] })).rejects.toThrow('metadata unreachable');
    expect(await footprint('halfway')).toEqual({ tenants: 0, identities: 0, databases: 0, roles: 0 });
  });

  it('a template that breaks while the database is built: the same', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'template-'));
    try {
      await writeFile(
        path.join(dir, '0001_broken.sql'),
        'create table ok (id uuid primary key);\ncreate table broken (id uuid references nowhere (id));\n',
      );
      await expect(makeTenant(fx.db, 'broken-build', { isolation: 'database', templateDir: dir })).rejects.toThrow(/nowhere/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(await footprint('broken-build')).toEqual({ tenants: 0, identities: 0, databases: 0, roles: 0 });
  });

  it('hard delete drops the database and the role with the registry rows', async () => {
    const made = await makeTenant(fx.db, 'goner', { isolation: 'database' });
    expect(await footprint('goner')).toEqual({ tenants: 1, identities: 1, databases: 1, roles: 1 });
    // The SQL function alone refuses: the database must go first.
    await expect(fx.db.pool.query('select public.hard_delete_tenant($1)', [made.tenant.id])).rejects.toMatchObject({ code: 'SA409' });
    await hardDeleteTenant(fx.db.pool, made.tenant.id, {}, [(id) => fx.db.databases.dropFor(id)]);
    expect(await footprint('goner')).toMatchObject({ tenants: 0, databases: 0, roles: 0 });
  });

  it('never drops a database it did not create', async () => {
    const made = await makeTenant(fx.db, 'marked', { isolation: 'database' });
    await fx.db.pool.query(`comment on database ${pg.escapeIdentifier(made.tenant.database_name!)} is 'someone else'`);
    await expect(fx.db.databases.dropFor(made.tenant.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await footprint('marked')).toMatchObject({ databases: 1 });
  });
});

describe('configuration of other servers', () => {
  const base = { NODE_ENV: 'test', JWT_SECRET: 'a-test-secret-that-is-long-enough-0123456789' };
  const hasura = {
    HASURA_GRAPHQL_ENDPOINT: 'http://graphql-engine:8080',
    HASURA_GRAPHQL_ADMIN_SECRET: 'admin-secret',
    HASURA_TENANT_DATABASE_URL: 'postgres://hasura_tenants@db:5432/app',
  };

  it('collects every TENANT_DATABASE_URL_<NAME> setting, and refuses one that is not a postgres URL', () => {
    const env = loadConfig({ ...base, TENANT_DATABASE_URL_EU: 'postgres://owner:pw@eu-db:5432/postgres' });
    expect(env.TENANT_DATABASE_SERVERS).toEqual({ TENANT_DATABASE_URL_EU: 'postgres://owner:pw@eu-db:5432/postgres' });
    expect(() => loadConfig({ ...base, TENANT_DATABASE_URL_EU: 'eu-db:5432' })).toThrow(
      /TENANT_DATABASE_URL_EU: must be a postgres:\/\/ URL/,
    );
  });

  it("with Hasura, needs Hasura's password-less login on each such server", () => {
    const server = { TENANT_DATABASE_URL_EU: 'postgres://owner:pw@eu-db:5432/postgres' };
    expect(() => loadConfig({ ...base, ...hasura, ...server })).toThrow(/HASURA_TENANT_DATABASE_URL_EU: required/);
    expect(() =>
      loadConfig({ ...base, ...hasura, ...server, HASURA_TENANT_DATABASE_URL_EU: 'postgres://hasura_tenants:pw@eu-db/app' }),
    ).toThrow(/HASURA_TENANT_DATABASE_URL_EU: must not contain a password/);
    const env = loadConfig({ ...base, ...hasura, ...server, HASURA_TENANT_DATABASE_URL_EU: 'postgres://hasura_tenants@eu-db:5432/app' });
    expect(env.HASURA_TENANT_DATABASE_URLS).toEqual({ TENANT_DATABASE_URL_EU: 'postgres://hasura_tenants@eu-db:5432/app' });
  });
});
