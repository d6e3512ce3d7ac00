// Where a tenant's data lives (ARCHITECTURE.md §5): one type, the registry's
// placement columns, and its one reader; every area (data access, Hasura
// exposure, moves, database pools) takes it from here.
//
// Where a new tenant is placed (ARCHITECTURE.md §4, §11): the tier a platform admin
// chose, else its plan's placement (plans.placement), else DEFAULT_ISOLATION.
// With Hasura configured, schema and database tenants each cost Hasura a source
// of their own, capped by HASURA_MAX_TENANT_SOURCES; past the cap the policy
// decides: place the tenant pooled (its data then shares the platform
// metadata), refuse it, or create it without a source. A platform admin's
// explicit choice is never changed silently: past the cap under the pooled
// policy it is refused instead. Without Hasura there is no per-tenant source
// to pay for, so no cap applies.
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import type { Client, Pool } from '../db/tx.ts';
import { databaseNameFor, roleNameFor, schemaNameFor, type Isolation, type TenantRow } from './records.ts';
import type { DatabaseRef } from './databases.ts';

/** A placement as public.tenants stores it (and a move its source and target). */
export interface Placement {
  isolation: Isolation;
  schema_name: string | null;
  db_role: string | null;
  /** Database tier: the tenant's own database, and the variable naming its server (null: the main server). */
  database_name: string | null;
  database_url_env: string | null;
}

/** A tenant's id and placement. */
export interface TenantPlacement extends Placement {
  id: string;
}

/** The placement columns of a tenant row, and nothing else (what a move records). */
export function placementOf(t: Placement): Placement {
  return {
    isolation: t.isolation,
    schema_name: t.schema_name,
    db_role: t.db_role,
    database_name: t.database_name,
    database_url_env: t.database_url_env,
  };
}

/** A tenant's id and placement, from any row that has them. */
export const tenantPlacementOf = (t: TenantPlacement): TenantPlacement => ({ id: t.id, ...placementOf(t) });

/** The registry's placement of a tenant; undefined when there is no such tenant. */
export async function readPlacement(db: Pool | Client, tenantId: string): Promise<TenantPlacement | undefined> {
  const { rows } = await db.query<TenantPlacement>(
    'select id, isolation, schema_name, db_role, database_name, database_url_env from public.tenants where id = $1',
    [tenantId],
  );
  return rows[0];
}

/**
 * The placement of tenant `slug` in a tier, named as provisioning names it. A
 * database-tier placement takes its database name and server setting from `database`.
 */
export function tierPlacement(
  slug: string,
  to: Isolation,
  rolePrefix: string,
  database: { name?: string; urlEnv: string | null } = { urlEnv: null },
): Placement {
  const none = { schema_name: null, db_role: null, database_name: null, database_url_env: null };
  switch (to) {
    case 'pooled':
      return { isolation: 'pooled', ...none };
    case 'schema':
      return { isolation: 'schema', ...none, schema_name: schemaNameFor(slug), db_role: roleNameFor(rolePrefix, slug) };
    case 'database':
      return {
        isolation: 'database',
        schema_name: schemaNameFor(slug),
        db_role: roleNameFor(rolePrefix, slug),
        database_name: database.name ?? databaseNameFor(rolePrefix, slug),
        database_url_env: database.urlEnv,
      };
    default: {
      const never: never = to;
      throw new Error(`unknown isolation ${String(never)}`);
    }
  }
}

export function samePlacement(a: Placement, b: Placement): boolean {
  return (
    a.isolation === b.isolation &&
    a.schema_name === b.schema_name &&
    a.db_role === b.db_role &&
    a.database_name === b.database_name &&
    a.database_url_env === b.database_url_env
  );
}

/** The PostgreSQL server a placement lives on ('' = the main one): roles are per server. */
const serverOf = (p: Placement): string => (p.isolation === 'database' ? (p.database_url_env ?? '') : '');

/** Whether the other placement uses this placement's role (same name, same server), so dropping one copy keeps it. */
export function sharesRole(p: Placement, other: Placement): boolean {
  return p.db_role !== null && p.db_role === other.db_role && serverOf(p) === serverOf(other);
}

/** A database-tier tenant's database, for TenantDatabases. */
export function databaseRefOf(t: Pick<TenantPlacement, 'id' | 'database_name' | 'database_url_env'>): DatabaseRef {
  if (!t.database_name) throw new Error(`tenant ${t.id} is not a database-tier tenant`);
  return { tenantId: t.id, databaseName: t.database_name, databaseUrlEnv: t.database_url_env };
}

export type CapPolicy = 'pooled' | 'refuse' | 'skip';

/** The Hasura source cap, as provisioning sees it (implemented by hasura/exposure.ts). */
export interface SourceCapacity {
  readonly max: number;
  readonly policy: CapPolicy;
  /** Locks the registry of tenant sources until the transaction ends; true when one more source fits. */
  hasRoom(client: Client): Promise<boolean>;
  /** Takes the new tenant's place under the cap, in the provisioning transaction (Hasura registers the source after commit). */
  reserve(client: Client, tenant: TenantRow): Promise<void>;
}

export interface PlacementRequest {
  /** A platform admin's choice (never a self-serve caller's). */
  chosen?: Isolation | undefined;
  planPlacement: Isolation | null;
  defaultIsolation: Isolation;
  capacity?: SourceCapacity | undefined;
  log: Logger;
}

export interface PlacementDecision {
  isolation: Isolation;
  /** Reserve a Hasura source for the tenant in the same transaction. */
  reserveSource: boolean;
}

export async function decidePlacement(client: Client, req: PlacementRequest): Promise<PlacementDecision> {
  const wanted = req.chosen ?? req.planPlacement ?? req.defaultIsolation;
  const { capacity } = req;
  if (wanted === 'pooled' || !capacity) return { isolation: wanted, reserveSource: false };
  if (await capacity.hasRoom(client)) return { isolation: wanted, reserveSource: true };

  const line = { cap: capacity.max, policy: capacity.policy, wanted, chosen: req.chosen !== undefined };
  switch (capacity.policy) {
    case 'pooled':
      if (req.chosen === undefined) {
        req.log.warn(line, 'Hasura tenant source cap reached: placing the new tenant pooled (HASURA_SOURCE_CAP_POLICY=pooled)');
        return { isolation: 'pooled', reserveSource: false };
      }
      break;
    case 'skip':
      req.log.warn(line, 'Hasura tenant source cap reached: tenant created without a GraphQL source (HASURA_SOURCE_CAP_POLICY=skip)');
      return { isolation: wanted, reserveSource: false };
    case 'refuse':
      break;
    default: {
      const never: never = capacity.policy;
      throw new Error(`unknown cap policy ${String(never)}`);
    }
  }
  req.log.error(line, 'Hasura tenant source cap reached: refusing the tenant');
  throw new AppError(
    'TENANT_CAPACITY_REACHED',
    req.chosen === undefined
      ? 'No capacity for new tenants right now (the GraphQL tenant limit is reached); contact support'
      : `No Hasura source left for a ${wanted} tenant (HASURA_MAX_TENANT_SOURCES=${capacity.max}); choose pooled or raise the cap`,
    { limit: capacity.max },
  );
}
