// Per-tenant Hasura sources against the /v1/metadata double (which rejects any
// request Hasura's schema would): provisioning registers a valid source,
// connecting as the tenant's role; hard delete drops it; a Hasura failure
// leaves nothing behind; the source cap holds.
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDb, passwordlessLogin, startTestServer, type TestDb } from '../support/db.ts';
import { startHasuraDouble, type HasuraDouble, type SourceEntry } from '../support/hasura-double.ts';
import { request } from '../support/http.ts';
import { makeTenant } from '../support/factories.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { buildContext } from '../../actions-server/src/server.ts';
import { hardDeleteTenant } from '../../actions-server/src/tenants/service.ts';
import { createMetadataClient } from '../../actions-server/src/hasura/client.ts';
import {
  exposeTenant,
  hasuraSourceStep,
  MARKER_VIEW,
  tenantSourceUrl,
  unexposeTenant,
  type ExposureDeps,
} from '../../actions-server/src/hasura/exposure.ts';
import { hasuraSettings } from '../../actions-server/src/hasura/settings.ts';
import { withTransaction } from '../../actions-server/src/db/tx.ts';
import { filteredSelect, type Relationship } from './boolexp-sql.ts';
import { enterPersona } from '../support/personas.ts';

const SECRET = 'exposure-admin-secret';

let db: TestDb;
let hasura: HasuraDouble;
let srv: RunningServer;
let loginRole: string;
let hasuraEnv: Record<string, string>;

beforeAll(async () => {
  db = await createTestDb();
  hasura = await startHasuraDouble({ adminSecret: SECRET });
  // A login of this test's own (roles are cluster-wide), like hasura_tenants: NOINHERIT.
  loginRole = `${db.rolePrefix}hasura_login`;
  const tenantDbUrl = await passwordlessLogin(db, loginRole);
  hasuraEnv = {
    HASURA_GRAPHQL_ENDPOINT: `${hasura.url}/v1/graphql`,
    HASURA_GRAPHQL_ADMIN_SECRET: SECRET,
    HASURA_TENANT_DATABASE_URL: tenantDbUrl,
  };
  srv = await startTestServer(db, hasuraEnv);
});
afterAll(async () => {
  await srv?.close();
  await hasura?.close();
  await db?.close();
});
beforeEach(() => hasura.reset());

const signup = (slug: string) =>
  request(srv.url, '/api/tenants/create', {
    body: { name: `${slug} Ltd`, slug, ownerEmail: `owner@${slug}.example.com`, ownerName: 'Owner', ownerPassword: 'securepass123' },
  });

async function footprint(slug: string) {
  const n = async (sql: string, params: unknown[]) => (await db.pool.query(sql, params)).rowCount;
  return {
    tenants: await n('select 1 from public.tenants where slug = $1', [slug]),
    schemas: await n('select 1 from pg_namespace where nspname = $1', [`tenant_${slug}`]),
    roles: await n('select 1 from pg_roles where rolname = $1', [`${db.rolePrefix}tenant_${slug}`]),
    registered: await n('select 1 from public.hasura_tenant_sources where source_name = $1', [`tenant_${slug}`]),
  };
}

const registered = async () =>
  (await db.pool.query<{ n: number }>('select count(*)::int as n from public.hasura_tenant_sources')).rows[0]!.n;
const sourceOf = (slug: string): SourceEntry | undefined => hasura.metadata().sources.find((s) => s.name === `tenant_${slug}`);
const types = () => hasura.requests.map((r) => (r as { type: string }).type);

describe('tenant source registration', () => {
  it('registers one source per schema tenant: slug namespace, tenant role, every table guarded', async () => {
    const res = await signup('acme-corp');
    expect(res.status, res.text).toBe(201);
    expect(types()).toEqual(['bulk']);
    const source = sourceOf('acme-corp');
    expect(source?.customization).toEqual({ root_fields: { namespace: 'acme_corp' }, type_names: { prefix: 'acme_corp_' } });
    const url = (source?.configuration['connection_info'] as { database_url: string }).database_url;
    expect(url).toContain(`options=-c%20role%3D${db.rolePrefix}tenant_acme-corp`);
    expect(url).not.toMatch(/:[^:@/]*@/); // no password
    expect(source?.tables.map((t) => t.table.name).sort()).toEqual(['channels', 'files', MARKER_VIEW, 'members', 'messages'].sort());

    const guard = { _exists: { _table: { schema: 'tenant_acme-corp', name: MARKER_VIEW }, _where: { id: { _eq: 'X-Hasura-Tenant-Id' } } } };
    const containsGuard = (exp: unknown): boolean =>
      JSON.stringify(exp) === JSON.stringify(guard) || ((exp as { _and?: unknown[] })._and ?? []).some(containsGuard);
    let permissions = 0;
    for (const table of source!.tables) {
      for (const kind of ['select', 'insert', 'update', 'delete'] as const) {
        for (const p of table[`${kind}_permissions`] ?? []) {
          expect(['owner', 'tenant_admin', 'member']).toContain(p.role);
          for (const key of ['filter', 'check']) {
            if (p.permission[key] !== undefined)
              expect(containsGuard(p.permission[key]), `${table.table.name} ${kind} ${p.role}`).toBe(true);
          }
          permissions++;
        }
      }
      if (table.table.name === MARKER_VIEW) expect(table.select_permissions).toBeUndefined();
    }
    expect(permissions).toBeGreaterThan(20);
    expect(await footprint('acme-corp')).toEqual({ tenants: 1, schemas: 1, roles: 1, registered: 1 });
  });

  it("connects as the tenant's role: its own schema only, and filters that follow the session's tenant", async () => {
    expect((await signup('globex')).status).toBe(201);
    const globex = sourceOf('globex')!;
    expect((await signup('initech')).status).toBe(201);
    const { rows: ids } = await db.pool.query<{ slug: string; id: string }>(
      `select slug, id from public.tenants where slug in ('globex', 'initech')`,
    );
    const idOf = (slug: string) => ids.find((r) => r.slug === slug)!.id;

    // A second member of globex, and a message from each member.
    const owner = (await db.pool.query<{ id: string; identity_id: string }>(`select id, identity_id from tenant_globex.members`)).rows[0]!;
    const ownerIdentity = owner.identity_id;
    const otherIdentity = '00000000-0000-4000-8000-00000000abcd';
    const other = (
      await db.pool.query<{ id: string }>(
        `insert into tenant_globex.members (identity_id, display_name) values ($1, 'Other') returning id`,
        [otherIdentity],
      )
    ).rows[0]!;
    const channel = (
      await db.pool.query<{ id: string }>(`insert into tenant_globex.channels (name, created_by) values ('general', $1) returning id`, [
        owner.id,
      ])
    ).rows[0]!;
    for (const m of [owner, other]) {
      await db.pool.query(`insert into tenant_globex.messages (channel_id, member_id, body) values ($1, $2, 'hi')`, [channel.id, m.id]);
    }

    const client = new pg.Client({ connectionString: (globex.configuration['connection_info'] as { database_url: string }).database_url });
    await client.connect();
    try {
      expect((await client.query('select current_user as u')).rows[0].u).toBe(`${db.rolePrefix}tenant_globex`);
      expect((await client.query('select count(*)::int as n from tenant_globex.messages')).rows[0].n).toBe(2);
      await expect(client.query('select 1 from tenant_initech.members')).rejects.toThrow(/permission denied/);

      const table = (name: string) => globex.tables.find((t) => t.table.name === name)!;
      const perm = (name: string, kind: 'select' | 'update', role: string) =>
        (table(name)[`${kind}_permissions`] ?? []).find((p) => p.role === role)!.permission['filter'];
      const relationships: Record<string, Relationship> = {
        member: { column: 'member_id', target: { schema: 'tenant_globex', name: 'members' }, targetColumn: 'id' },
      };
      const count = async (name: string, filter: unknown, session: Record<string, string>) => {
        const { sql, params } = filteredSelect({ schema: 'tenant_globex', name }, filter, { session, relationships });
        return (await client.query<{ n: number }>(sql, params)).rows[0]!.n;
      };
      const session = (tenant: string, role: string, user: string) => ({
        'x-hasura-role': role,
        'x-hasura-tenant-id': idOf(tenant),
        'x-hasura-user-id': user,
      });

      expect(await count('messages', perm('messages', 'select', 'member'), session('globex', 'member', otherIdentity))).toBe(2);
      // A session of another tenant sees nothing here, whatever its role.
      expect(await count('messages', perm('messages', 'select', 'owner'), session('initech', 'owner', ownerIdentity))).toBe(0);
      // Members change only their own messages; owners all of them.
      expect(await count('messages', perm('messages', 'update', 'member'), session('globex', 'member', otherIdentity))).toBe(1);
      expect(await count('messages', perm('messages', 'update', 'owner'), session('globex', 'owner', ownerIdentity))).toBe(2);
    } finally {
      await client.end();
    }
  });

  it('drops the source before a hard delete', async () => {
    expect((await signup('umbrella')).status).toBe(201);
    const id = (await db.pool.query<{ id: string }>(`select id from public.tenants where slug = 'umbrella'`)).rows[0]!.id;
    await hardDeleteTenant(db.pool, id, {}, srv.ctx.deprovisioningSteps);
    expect(hasura.requests.at(-1)).toEqual({ type: 'pg_drop_source', args: { name: 'tenant_umbrella', cascade: true } });
    expect(sourceOf('umbrella')).toBeUndefined();
    expect(await footprint('umbrella')).toEqual({ tenants: 0, schemas: 0, roles: 0, registered: 0 });
  });

  it('leaves no tenant row, schema, role or source when Hasura keeps failing mid-provisioning', async () => {
    hasura.failOn('pg_track_table', 10);
    const res = await signup('hooli');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SERVICE_UNAVAILABLE');
    expect(await footprint('hooli')).toEqual({ tenants: 0, schemas: 0, roles: 0, registered: 0 });
    expect(sourceOf('hooli')).toBeUndefined();
    expect((await db.pool.query(`select 1 from public.identities where email = 'owner@hooli.example.com'`)).rowCount).toBe(0);
    // Bounded: three attempts, each cleaned up.
    expect(types().filter((t) => t === 'bulk')).toHaveLength(3);
  });

  it('retries a transient failure after cleaning up, then succeeds', async () => {
    hasura.failOn('pg_track_table', 1);
    const res = await signup('vandelay');
    expect(res.status, res.text).toBe(201);
    expect(types()).toEqual(['bulk', 'pg_drop_source', 'bulk']);
    expect(sourceOf('vandelay')).toBeDefined();
  });
});

describe('tenant source cap', () => {
  function deps(overrides: Partial<ExposureDeps['settings']>): ExposureDeps {
    const settings = hasuraSettings(db.env(hasuraEnv))!;
    return {
      settings: { ...settings, ...overrides },
      pool: db.pool,
      log: createLogger('silent'),
      metadata: createMetadataClient({ endpoint: settings.baseUrl, adminSecret: SECRET, timeoutMs: 5_000 }),
      sleep: () => Promise.resolve(),
    };
  }

  it('refuses a tenant past the cap (policy refuse) and leaves nothing behind', async () => {
    const d = deps({ maxTenantSources: await registered(), capPolicy: 'refuse' });
    await expect(makeTenant(db, 'capped', { steps: [hasuraSourceStep(d)] })).rejects.toMatchObject({
      code: 'TENANT_CAPACITY_REACHED',
      status: 503,
    });
    expect(await footprint('capped')).toEqual({ tenants: 0, schemas: 0, roles: 0, registered: 0 });
    expect(hasura.requests).toHaveLength(0);
  });

  it('creates the tenant without a source past the cap (policy skip)', async () => {
    const d = deps({ maxTenantSources: await registered(), capPolicy: 'skip' });
    await makeTenant(db, 'uncapped', { steps: [hasuraSourceStep(d)] });
    expect(await footprint('uncapped')).toEqual({ tenants: 1, schemas: 1, roles: 1, registered: 0 });
    expect(hasura.requests).toHaveLength(0);
  });

  it('holds under concurrent sign-ups: exactly the free slots are filled', async () => {
    const d = deps({ maxTenantSources: (await registered()) + 1, capPolicy: 'refuse' });
    const results = await Promise.allSettled(
      ['race-one', 'race-two', 'race-three'].map((slug) => makeTenant(db, slug, { steps: [hasuraSourceStep(d)] })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => r.reason.code)).toEqual([
      'TENANT_CAPACITY_REACHED',
      'TENANT_CAPACITY_REACHED',
    ]);
    expect(types()).toEqual(['bulk']);
  });

  it('registers nothing for a pooled tenant (pooled tenants share the platform metadata)', async () => {
    const { tenant } = await makeTenant(db, 'pooled-ish');
    await exposeTenant(deps({}), { ...tenant, isolation: 'pooled' });
    expect(hasura.requests).toHaveLength(0);
  });
});

describe('a database tenant', () => {
  it('gets its source like a schema tenant: its own database in the URL, its role, its marker view there; and loses both on hard delete', async () => {
    const settings = hasuraSettings(db.env(hasuraEnv))!;
    const deps: ExposureDeps = {
      settings,
      pool: db.pool,
      log: createLogger('silent'),
      metadata: createMetadataClient({ endpoint: settings.baseUrl, adminSecret: SECRET, timeoutMs: 5_000 }),
      databases: db.databases,
    };
    const { tenant } = await makeTenant(db, 'warehouse', { isolation: 'database', steps: [hasuraSourceStep(deps)] });
    const source = sourceOf('warehouse')!;
    expect(source.customization).toEqual({ root_fields: { namespace: 'warehouse' }, type_names: { prefix: 'warehouse_' } });
    const url = new URL((source.configuration['connection_info'] as { database_url: string }).database_url);
    expect(decodeURIComponent(url.pathname)).toBe(`/${tenant.database_name}`);
    expect(url.username).toBe(loginRole);
    expect(url.password).toBe('');
    expect(url.search).toBe(`?options=-c%20role%3D${encodeURIComponent(tenant.db_role!)}`);
    expect(source.tables.map((t) => t.table.name).sort()).toEqual(['channels', 'files', MARKER_VIEW, 'members', 'messages'].sort());
    expect(await registered()).toBeGreaterThan(0);

    // Hasura's login reaches the tenant's database as the tenant's role, and sees its schema only.
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    try {
      expect((await client.query('select current_database() as d, current_user as u')).rows[0]).toEqual({
        d: tenant.database_name,
        u: tenant.db_role,
      });
      expect((await client.query(`select id from tenant_warehouse.${MARKER_VIEW}`)).rows).toEqual([{ id: tenant.id }]);
      expect((await client.query('select count(*)::int as n from tenant_warehouse.members')).rows[0].n).toBe(1);
      await expect(client.query('select 1 from public.tenants')).rejects.toThrow(/permission denied/);
    } finally {
      await client.end();
    }

    await hardDeleteTenant(db.pool, tenant.id, {}, [(id) => unexposeTenant(deps, id), (id) => db.databases.dropFor(id)]);
    expect(hasura.requests.at(-1)).toEqual({ type: 'pg_drop_source', args: { name: 'tenant_warehouse', cascade: true } });
    expect(sourceOf('warehouse')).toBeUndefined();
    expect((await db.pool.query('select 1 from pg_database where datname = $1', [tenant.database_name])).rowCount).toBe(0);
    expect((await db.pool.query('select 1 from public.hasura_tenant_sources where tenant_id = $1', [tenant.id])).rowCount).toBe(0);
  });
});

describe('without HASURA_GRAPHQL_ENDPOINT', () => {
  it('adds no Hasura step and no source cap', async () => {
    const ctx = await buildContext(db.env(), createLogger('silent'), db.pool, db.url);
    try {
      expect(ctx.provisioningSteps).toHaveLength(0);
      // Only the database tier's own: dropping a database tenant's database.
      expect(ctx.deprovisioningSteps).toHaveLength(1);
      expect(ctx.sourceCapacity).toBeUndefined();
    } finally {
      await ctx.resolver.stop();
      await ctx.databases.close();
    }
  });
});

describe('tenantSourceUrl', () => {
  it("adds the role as libpq's options, percent-encoded (libpq does not read '+' as a space)", () => {
    expect(tenantSourceUrl('postgres://hasura_tenants@db:5432/app', 'tenant_a-b')).toBe(
      'postgres://hasura_tenants@db:5432/app?options=-c%20role%3Dtenant_a-b',
    );
    expect(tenantSourceUrl('postgres://hasura_tenants@db:5432/app?sslmode=require', 'tenant_x')).toBe(
      'postgres://hasura_tenants@db:5432/app?sslmode=require&options=-c%20role%3Dtenant_x',
    );
  });
});

// The tenant role can read its marker view (what every permission's _exists needs).
it('gives the tenant role read access to its marker view', async () => {
  const { tenant } = await makeTenant(db, 'marker');
  const settings = hasuraSettings(db.env(hasuraEnv))!;
  await exposeTenant(
    {
      settings,
      pool: db.pool,
      log: createLogger('silent'),
      metadata: createMetadataClient({ endpoint: settings.baseUrl, adminSecret: SECRET, timeoutMs: 5_000 }),
    },
    tenant,
  );
  const seen = await withTransaction(db.pool, async (c) => {
    await enterPersona(c, { kind: 'tenant', dbRole: tenant.db_role! });
    return (await c.query(`select id from tenant_marker.${MARKER_VIEW}`)).rows;
  });
  expect(seen).toEqual([{ id: tenant.id }]);
});
