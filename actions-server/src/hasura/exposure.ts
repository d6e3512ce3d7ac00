// Per-tenant exposure (ARCHITECTURE.md §6, §11): a schema-tier or database-tier
// tenant gets a Hasura source of its own, namespaced by its slug, whose
// connection runs as the tenant's database role; so even a wrong permission
// filter cannot reach another tenant's schema. Pooled tenants share the
// platform metadata (pooled.* tracked once on `platform`) and cost Hasura
// nothing per tenant; sources are capped (HASURA_MAX_TENANT_SOURCES), and the
// cap is taken in the provisioning transaction (sourceCapacity below), so the
// pooled policy can still place a tenant pooled.
//
// How the source connects: the database URL of HASURA_TENANT_DATABASE_URL (no
// password: Hasura stores it in its metadata, and its container supplies
// PGPASSWORD) plus libpq's `options=-c role=<tenant role>`. The login role
// (hasura_tenants by default) is NOINHERIT and is granted the tenant role at
// exposure time, so it can become that role and nothing else. A database
// tenant's source is the same URL with the tenant's database in it; on another
// server (tenants.database_url_env = TENANT_DATABASE_URL_<NAME>) the base URL
// is HASURA_TENANT_DATABASE_URL_<NAME>, Hasura's password-less login there.
//
// Permission filters cannot name the tenant through a column (template tables
// have no tenant_id), so each tenant schema gets a one-row view `hasura_tenant`
// holding its id, and every permission requires
// `_exists: {hasura_tenant: {id: X-Hasura-Tenant-Id}}`: a member of tenant B
// querying tenant A's namespace gets nothing.
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import { asSystem, isUuid, type Client, type Pool } from '../db/tx.ts';
import type { ProvisioningStep } from '../tenants/provision.ts';
import type { Isolation, TenantRow } from '../tenants/records.ts';
import type { SourceCapacity } from '../tenants/placement.ts';
import type { TenantDatabases } from '../tenants/databases.ts';
import { databaseRefOf, readPlacement, type Placement, type TenantPlacement } from '../tenants/placement.ts';
import { HasuraMetadataError, type MetadataClient, type MetadataRequest } from './client.ts';
import type { HasuraSettings } from './settings.ts';
import { HASURA_TENANT_ROLES, type HasuraTenantRole } from './roles.ts';

export const MARKER_VIEW = 'hasura_tenant';
const SESSION_TENANT = 'X-Hasura-Tenant-Id';
const SESSION_USER = 'X-Hasura-User-Id';
/** Columns the database fills in; never writable through GraphQL. */
const GENERATED_COLUMNS = new Set(['id', 'created_at', 'updated_at']);

export interface TenantTable {
  name: string;
  columns: string[];
  /** Single-column foreign keys to tables of the same schema. */
  foreignKeys: { column: string; table: string }[];
}

export interface TenantSourceSpec {
  sourceName: string;
  /** GraphQL root-field namespace (the slug, with '-' as '_'). */
  namespace: string;
  schema: string;
  databaseUrl: string;
  maxConnections: number;
  tables: TenantTable[];
}

type BoolExp = Record<string, unknown>;

/** Slugs are `[a-z][a-z0-9-]*` and GraphQL names `[_A-Za-z][_0-9A-Za-z]*`; slugs have no '_', so this is one-to-one. */
export function graphqlNamespace(slug: string): string {
  return slug.replace(/-/g, '_');
}

/** The tenant database URL with libpq's startup option that switches to the tenant's role. */
export function tenantSourceUrl(base: string, dbRole: string): string {
  const url = new URL(base);
  // encodeURIComponent, not URLSearchParams: libpq does not read '+' as a space.
  const option = `options=${encodeURIComponent(`-c role=${dbRole}`)}`;
  return `${url.toString()}${url.search ? '&' : '?'}${option}`;
}

const singular = (name: string): string => (name.endsWith('s') ? name.slice(0, -1) : name);

function objectRelationshipName(fk: { column: string; table: string }): string {
  return fk.column.endsWith('_id') ? fk.column.slice(0, -3) : `${fk.column}_${singular(fk.table)}`;
}

/** The permission rules of one tenant source, per table and role. Pure, so tests read it directly. */
export function tenantSourceRequests(spec: TenantSourceSpec): MetadataRequest[] {
  const source = spec.sourceName;
  const qualified = (name: string) => ({ schema: spec.schema, name });
  const guard: BoolExp = { _exists: { _table: qualified(MARKER_VIEW), _where: { id: { _eq: SESSION_TENANT } } } };
  const and = (...exps: BoolExp[]): BoolExp => (exps.length === 1 ? exps[0]! : { _and: exps });
  const members = spec.tables.find((t) => t.name === 'members' && t.columns.includes('identity_id'));

  const requests: MetadataRequest[] = [
    {
      type: 'pg_add_source',
      args: {
        name: source,
        configuration: {
          connection_info: {
            database_url: spec.databaseUrl,
            isolation_level: 'read-committed',
            use_prepared_statements: true,
            // Every source has its own pool: keep it small and let idle tenants give connections back.
            pool_settings: { max_connections: spec.maxConnections, idle_timeout: 60, retries: 1 },
          },
        },
        customization: { root_fields: { namespace: spec.namespace }, type_names: { prefix: `${spec.namespace}_` } },
      },
    },
    { type: 'pg_track_table', args: { source, table: qualified(MARKER_VIEW) } },
  ];

  for (const table of spec.tables) requests.push({ type: 'pg_track_table', args: { source, table: qualified(table.name) } });

  for (const table of spec.tables) {
    for (const fk of table.foreignKeys) {
      requests.push({
        type: 'pg_create_object_relationship',
        args: { source, table: qualified(table.name), name: objectRelationshipName(fk), using: { foreign_key_constraint_on: fk.column } },
      });
    }
    const children = spec.tables.flatMap((child) => child.foreignKeys.filter((fk) => fk.table === table.name).map((fk) => ({ child, fk })));
    for (const { child, fk } of children) {
      const ambiguous = child.foreignKeys.filter((f) => f.table === table.name).length > 1;
      requests.push({
        type: 'pg_create_array_relationship',
        args: {
          source,
          table: qualified(table.name),
          name: ambiguous ? `${child.name}_by_${fk.column}` : child.name,
          using: { foreign_key_constraint_on: { table: qualified(child.name), columns: [fk.column] } },
        },
      });
    }
  }

  const permission = (
    kind: 'select' | 'insert' | 'update' | 'delete',
    table: string,
    role: HasuraTenantRole,
    body: Record<string, unknown>,
  ) => requests.push({ type: `pg_create_${kind}_permission`, args: { source, table: qualified(table), role, permission: body } });

  for (const table of spec.tables) {
    const writable = table.columns.filter((c) => !GENERATED_COLUMNS.has(c));
    // The member a row belongs to (messages.member_id, files.member_id, channels.created_by).
    const ownerFk = members ? table.foreignKeys.find((fk) => fk.table === members.name) : undefined;
    for (const role of HASURA_TENANT_ROLES) {
      permission('select', table.name, role, { columns: table.columns, filter: guard, allow_aggregations: true });
      if (role === 'owner' || role === 'tenant_admin') {
        if (writable.length > 0) {
          permission('insert', table.name, role, { columns: writable, check: guard });
          permission('update', table.name, role, { columns: writable, filter: guard, check: guard });
        }
        permission('delete', table.name, role, { filter: guard });
        continue;
      }
      // Members write only their own rows, and edit only their own profile.
      if (table === members) {
        const own = { identity_id: { _eq: SESSION_USER } };
        const editable = writable.filter((c) => c !== 'identity_id' && c !== 'email');
        if (editable.length > 0)
          permission('update', table.name, role, { columns: editable, filter: and(guard, own), check: and(guard, own) });
      } else if (ownerFk) {
        const own = { [objectRelationshipName(ownerFk)]: { identity_id: { _eq: SESSION_USER } } };
        permission('insert', table.name, role, { columns: writable, check: and(guard, own) });
        const editable = writable.filter((c) => c !== ownerFk.column);
        if (editable.length > 0)
          permission('update', table.name, role, { columns: editable, filter: and(guard, own), check: and(guard, own) });
        permission('delete', table.name, role, { filter: and(guard, own) });
      }
    }
  }
  return requests;
}

/** Tables, columns and same-schema foreign keys of a tenant schema, as the owner sees them. */
export async function introspectTenantSchema(client: Client, schema: string): Promise<TenantTable[]> {
  const { rows } = await client.query<{ name: string; columns: string[]; fks: { column: string; table: string }[] }>(
    `select c.relname as name,
            array(select a.attname::text from pg_attribute a
                   where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns,
            coalesce((select json_agg(json_build_object('column', a.attname, 'table', r.relname) order by a.attname)
                        from pg_constraint k
                        join pg_class r on r.oid = k.confrelid
                        join pg_attribute a on a.attrelid = k.conrelid and a.attnum = k.conkey[1]
                       where k.conrelid = c.oid and k.contype = 'f' and array_length(k.conkey, 1) = 1
                         and r.relnamespace = c.relnamespace), '[]'::json) as fks
       from pg_class c
      where c.relnamespace = $1::regnamespace and c.relkind in ('r', 'p')
      order by c.relname`,
    [schema],
  );
  return rows.map((r) => ({ name: r.name, columns: r.columns, foreignKeys: r.fks }));
}

export interface ExposureDeps {
  settings: HasuraSettings;
  pool: Pool;
  log: Logger;
  metadata: MetadataClient;
  /** Database-tier tenants' databases (their marker view and grants live there). */
  databases?: TenantDatabases | undefined;
  /** Backoff between attempts (tests pass a no-op). */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How Hasura sees a tenant's placement: a source of its own (schema and database tiers), or none. */
export type Exposed = {
  exposed: true;
  schema: string;
  dbRole: string;
  /** Database tier: the tenant's own database. */
  database?: { name: string; urlEnv: string | null };
};
export type Exposure = Exposed | { exposed: false; reason: string };

export function exposureOf(tenant: Placement): Exposure {
  const isolation: Isolation = tenant.isolation;
  switch (isolation) {
    case 'schema':
      if (!tenant.schema_name || !tenant.db_role) throw new Error('schema tenant without schema or role');
      return { exposed: true, schema: tenant.schema_name, dbRole: tenant.db_role };
    case 'pooled':
      return { exposed: false, reason: 'pooled tenants share the platform metadata' };
    case 'database':
      if (!tenant.schema_name || !tenant.db_role || !tenant.database_name)
        throw new Error('database tenant without schema, role or database');
      return {
        exposed: true,
        schema: tenant.schema_name,
        dbRole: tenant.db_role,
        database: { name: tenant.database_name, urlEnv: tenant.database_url_env },
      };
    default: {
      const never: never = isolation;
      throw new Error(`unknown isolation ${String(never)}`);
    }
  }
}

/** Hasura's password-less base URL for the server the tenant's data is on. */
function hasuraBaseUrl(settings: HasuraSettings, placement: Exposed): string {
  const urlEnv = placement.database?.urlEnv ?? null;
  if (urlEnv === null) return settings.tenantDatabaseUrl;
  const url = settings.serverDatabaseUrls[urlEnv];
  if (!url) throw new AppError('SERVICE_UNAVAILABLE', `Hasura has no login on this tenant's server (HASURA_${urlEnv} is not set)`);
  return url;
}

/** The URL of the tenant's source: Hasura's login on the tenant's server and database, switching to the tenant's role. */
export function sourceDatabaseUrl(settings: HasuraSettings, placement: Exposed): string {
  const url = new URL(hasuraBaseUrl(settings, placement));
  if (placement.database) url.pathname = `/${encodeURIComponent(placement.database.name)}`;
  return tenantSourceUrl(url.toString(), placement.dbRole);
}

const loginRoleOf = (settings: HasuraSettings, placement: Exposed): string =>
  decodeURIComponent(new URL(hasuraBaseUrl(settings, placement)).username);

const lockSources = (client: Client) => client.query('lock table public.hasura_tenant_sources in share row exclusive mode');

/** The source cap, taken in the provisioning transaction (tenants/placement.ts decides what happens past it). */
export function sourceCapacity(settings: HasuraSettings): SourceCapacity {
  return {
    max: settings.maxTenantSources,
    policy: settings.capPolicy,
    async hasRoom(client) {
      await lockSources(client);
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from public.hasura_tenant_sources');
      return (rows[0]?.n ?? 0) < settings.maxTenantSources;
    },
    async reserve(client, tenant) {
      const placement = exposureOf(tenant);
      if (!placement.exposed) return;
      await client.query('insert into public.hasura_tenant_sources (tenant_id, source_name) values ($1, $2)', [
        tenant.id,
        placement.schema,
      ]);
    },
  };
}

/**
 * Runs fn as the owner where the tenant's schema is: in the caller's
 * transaction on this database, or in a transaction of the tenant's own
 * database (committed before the caller's).
 */
export function inTenantDatabase<T>(
  deps: ExposureDeps,
  tenant: TenantPlacement,
  client: Client,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  if (tenant.isolation !== 'database') return fn(client);
  if (!deps.databases) throw new Error('database tenants need TenantDatabases to be exposed');
  return deps.databases.withPool(databaseRefOf(tenant), (pool) => asSystem(pool, fn));
}

/**
 * Registers the tenant's source (cap checked under a table lock, so concurrent
 * sign-ups cannot overshoot it, unless provisioning reserved it already),
 * grants the login role the tenant role and creates the marker view; all
 * committed before Hasura connects as that role to add the source.
 */
export async function reserveSource(deps: ExposureDeps, tenant: TenantRow, placement: Exposed): Promise<TenantTable[] | undefined> {
  const { settings } = deps;
  if (!isUuid(tenant.id)) throw new Error('tenant id must be a uuid');
  return asSystem(deps.pool, async (client) => {
    await lockSources(client);
    const reserved = (await client.query('select 1 from public.hasura_tenant_sources where tenant_id = $1', [tenant.id])).rowCount === 1;
    if (!reserved) {
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from public.hasura_tenant_sources');
      if ((rows[0]?.n ?? 0) >= settings.maxTenantSources) {
        const line = { tenantId: tenant.id, cap: settings.maxTenantSources, policy: settings.capPolicy };
        if (settings.capPolicy === 'skip') {
          deps.log.warn(line, 'Hasura tenant source cap reached: tenant created without a GraphQL source (HASURA_SOURCE_CAP_POLICY=skip)');
          return undefined;
        }
        // 'pooled' is decided at placement; a tenant already built elsewhere can only be refused here.
        deps.log.error(line, 'Hasura tenant source cap reached: refusing the tenant');
        throw new AppError(
          'TENANT_CAPACITY_REACHED',
          'No capacity for new tenants right now (the GraphQL tenant limit is reached); contact support',
          { limit: settings.maxTenantSources },
        );
      }
      await client.query('insert into public.hasura_tenant_sources (tenant_id, source_name) values ($1, $2)', [
        tenant.id,
        placement.schema,
      ]);
    }
    const login = loginRoleOf(settings, placement);
    return inTenantDatabase(deps, tenant, client, async (c) => {
      const view = `${c.escapeIdentifier(placement.schema)}.${c.escapeIdentifier(MARKER_VIEW)}`;
      if (placement.database) {
        // Tenant databases admit only those granted CONNECT (tenants/databases.ts).
        await c.query(`grant connect on database ${c.escapeIdentifier(placement.database.name)} to ${c.escapeIdentifier(login)}`);
      }
      await c.query(`grant ${c.escapeIdentifier(placement.dbRole)} to ${c.escapeIdentifier(login)}`);
      await c.query(`create or replace view ${view} with (security_invoker = true) as select ${c.escapeLiteral(tenant.id)}::uuid as id`);
      await c.query(`grant select on ${view} to ${c.escapeIdentifier(placement.dbRole)}`);
      return introspectTenantSchema(c, placement.schema);
    });
  });
}

/** Undoes reserveSource (registry row, grants, marker view); each part only if still there. */
export async function releaseSource(deps: ExposureDeps, tenantId: string): Promise<void> {
  await asSystem(deps.pool, async (client) => {
    const t = await readPlacement(client, tenantId);
    await client.query('delete from public.hasura_tenant_sources where tenant_id = $1', [tenantId]);
    const placement = t ? exposureOf(t) : undefined;
    if (!t || !placement?.exposed) return;
    const login = loginRoleOf(deps.settings, placement);
    await inTenantDatabase(deps, t, client, async (c) => {
      const roleExists = (await c.query('select 1 from pg_roles where rolname = $1', [placement.dbRole])).rowCount === 1;
      if (roleExists) await c.query(`revoke ${c.escapeIdentifier(placement.dbRole)} from ${c.escapeIdentifier(login)}`);
      await c.query(`drop view if exists ${c.escapeIdentifier(placement.schema)}.${c.escapeIdentifier(MARKER_VIEW)}`);
      if (placement.database) {
        await c.query(`revoke connect on database ${c.escapeIdentifier(placement.database.name)} from ${c.escapeIdentifier(login)}`);
      }
    });
  });
}

/** pg_drop_source; a source that is not there counts as dropped. */
export async function dropSource(deps: ExposureDeps, sourceName: string): Promise<void> {
  try {
    await deps.metadata.request({ type: 'pg_drop_source', args: { name: sourceName, cascade: true } });
  } catch (err) {
    if (err instanceof HasuraMetadataError && err.code === 'not-exists') return;
    throw err;
  }
}

/**
 * Bounded attempts. Before each retry the source is dropped, so a request that
 * Hasura applied but whose answer was lost cannot leave a duplicate or a half
 * registration; after the last failure the source is dropped for good.
 */
async function withAttempts(deps: ExposureDeps, sourceName: string, what: string, fn: () => Promise<unknown>): Promise<void> {
  const sleep = deps.sleep ?? defaultSleep;
  let last: unknown;
  for (let attempt = 1; attempt <= deps.settings.attempts; attempt++) {
    try {
      await fn();
      return;
    } catch (err) {
      last = err;
      const again = err instanceof HasuraMetadataError && (err.retryable || err.code === 'already-exists');
      deps.log.warn(
        { source: sourceName, attempt, status: err instanceof HasuraMetadataError ? err.status : undefined, err: (err as Error).message },
        `Hasura ${what} failed`,
      );
      if (!again || attempt === deps.settings.attempts) break;
      await dropSource(deps, sourceName).catch(() => undefined);
      await sleep(100 * 2 ** (attempt - 1));
    }
  }
  throw last;
}

/** The source a tenant should have, given its schema's tables. */
export function sourceSpecOf(
  settings: HasuraSettings,
  tenant: Pick<TenantRow, 'slug'>,
  placement: Exposed,
  tables: TenantTable[],
): TenantSourceSpec {
  return {
    sourceName: placement.schema,
    namespace: graphqlNamespace(tenant.slug),
    schema: placement.schema,
    databaseUrl: sourceDatabaseUrl(settings, placement),
    maxConnections: settings.tenantSourceMaxConnections,
    tables,
  };
}

/** Records that the source's metadata matches the tenant's current template version. */
export async function markSourceSynced(pool: Pool, tenantId: string): Promise<void> {
  await asSystem(pool, (c) =>
    c.query(
      `update public.hasura_tenant_sources s set synced_version = coalesce(t.template_version, 0)
         from public.tenants t where t.id = s.tenant_id and s.tenant_id = $1`,
      [tenantId],
    ),
  );
}

export async function exposeTenant(deps: ExposureDeps, tenant: TenantRow): Promise<void> {
  const placement = exposureOf(tenant);
  if (!placement.exposed) {
    deps.log.debug({ tenantId: tenant.id, isolation: tenant.isolation }, placement.reason);
    return;
  }
  const tables = await reserveSource(deps, tenant, placement);
  if (!tables) return;
  const spec = sourceSpecOf(deps.settings, tenant, placement, tables);
  try {
    // One bulk: Hasura applies it as a whole or not at all.
    await withAttempts(deps, spec.sourceName, 'tenant source registration', () =>
      deps.metadata.request({ type: 'bulk', args: tenantSourceRequests(spec) }),
    );
  } catch (err) {
    deps.log.error({ tenantId: tenant.id, source: spec.sourceName, err: (err as Error).message }, 'Hasura tenant source not registered');
    await dropSource(deps, spec.sourceName).catch((e: Error) =>
      deps.log.error({ tenantId: tenant.id, source: spec.sourceName, err: e.message }, 'could not drop the half-registered Hasura source'),
    );
    await releaseSource(deps, tenant.id);
    throw new AppError('SERVICE_UNAVAILABLE', 'The GraphQL API could not be set up for this tenant; try again shortly');
  }
  await markSourceSynced(deps.pool, tenant.id);
  deps.log.info({ tenantId: tenant.id, source: spec.sourceName, tables: tables.length }, 'Hasura tenant source registered');
}

/** Drops the tenant's source (if it has one) and its grant; used on undo and before a hard delete. */
export async function unexposeTenant(deps: ExposureDeps, tenantId: string): Promise<void> {
  const { rows } = await deps.pool.query<{ source_name: string }>(
    'select source_name from public.hasura_tenant_sources where tenant_id = $1',
    [tenantId],
  );
  const sourceName = rows[0]?.source_name;
  if (!sourceName) return;
  await withAttempts(deps, sourceName, 'tenant source removal', () => dropSource(deps, sourceName));
  await releaseSource(deps, tenantId);
  deps.log.info({ tenantId, source: sourceName }, 'Hasura tenant source dropped');
}

export function hasuraSourceStep(deps: ExposureDeps): ProvisioningStep {
  return {
    name: 'hasura-source',
    run: (tenant) => exposeTenant(deps, tenant),
    undo: (tenant) => unexposeTenant(deps, tenant.id),
  };
}
