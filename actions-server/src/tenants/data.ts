// Work on a tenant's product data (members, channels, messages, files) in one
// transaction, whatever the tenant's placement, with unqualified SQL:
//   schema    the main database, as the tenant's own role, search_path its schema:
//             PostgreSQL itself refuses any other tenant's schema;
//   pooled    the main database, as `app` with app.tenant_id set, search_path
//             `pooled`: forced RLS keeps the shared tables to the tenant's rows,
//             and tenant_id defaults to app.tenant_id on insert;
//   database  the tenant's own database (through its bounded pool), as in the
//             schema tier there.
import pg from 'pg';
import { AppError } from '../core/errors.ts';
import { scopeStatements, withTransaction, type Client, type Pool } from '../db/tx.ts';
import type { Actor } from '../core/actor.ts';
import type { Isolation } from './records.ts';
import { databaseRefOf, type TenantPlacement } from './placement.ts';
import type { TenantDatabases } from './databases.ts';

/** The main pool, and the pools of database-tier tenants (needed only for those). */
export interface TenantDataPools {
  pool: Pool;
  databases?: TenantDatabases | undefined;
}

export const POOLED_SCHEMA = 'pooled';

const poolsOf = (pools: Pool | TenantDataPools): TenantDataPools => (pools instanceof pg.Pool ? { pool: pools } : pools);

/** The role and search_path a transaction on this tenant's data takes (after scopeStatements' tenant settings). */
function dataScope(client: Client, tenant: TenantPlacement, actor: Actor): string {
  const isolation: Isolation = tenant.isolation;
  switch (isolation) {
    case 'pooled':
      return `${scopeStatements(client, { ...actor, tenantId: tenant.id, dbRole: 'app' })}; set local search_path = ${client.escapeIdentifier(POOLED_SCHEMA)}, public, pg_temp`;
    case 'schema':
    case 'database': {
      if (!tenant.schema_name || !tenant.db_role) throw new Error(`${isolation} tenant ${tenant.id} without schema or role`);
      return `${scopeStatements(client, { ...actor, tenantId: tenant.id, dbRole: tenant.db_role })}; set local search_path = ${client.escapeIdentifier(tenant.schema_name)}, public, pg_temp`;
    }
    default: {
      const never: never = isolation;
      throw new Error(`unknown isolation ${String(never)}`);
    }
  }
}

export async function withTenantData<T>(
  pools: Pool | TenantDataPools,
  tenant: TenantPlacement,
  userId: string | undefined,
  fn: (client: Client) => Promise<T>,
  actor: Actor = {},
): Promise<T> {
  const { pool, databases } = poolsOf(pools);
  const run = (p: Pool) =>
    withTransaction(p, async (client) => {
      await client.query(dataScope(client, tenant, { ...actor, userId }));
      return fn(client);
    });
  if (tenant.isolation !== 'database') return run(pool);
  if (!databases) throw new AppError('SERVICE_UNAVAILABLE', 'Database-tier tenants are not available in this process');
  return databases.withPool(databaseRefOf(tenant), run);
}

/**
 * Registry work (as `app` in the main database, under RLS for this tenant) and
 * then work on the tenant's data, as one unit. For schema and pooled tenants
 * that is one transaction. A database tenant's data lives in another database:
 * its transaction runs and commits inside the registry's, which commits last,
 * and if that commit fails `undoData` reverses the committed data work, so a
 * failure anywhere leaves neither half behind.
 */
export async function withRegistryAndData<R, D>(
  pools: TenantDataPools,
  tenant: TenantPlacement,
  actor: Actor & { userId: string },
  registry: (client: Client) => Promise<R>,
  data: (client: Client, registryResult: R) => Promise<D>,
  undoData: (client: Client, dataResult: D) => Promise<void>,
): Promise<D> {
  const appScope = (client: Client) => scopeStatements(client, { ...actor, tenantId: tenant.id, dbRole: 'app' });
  if (tenant.isolation !== 'database') {
    return withTransaction(pools.pool, async (client) => {
      await client.query(appScope(client));
      const r = await registry(client);
      await client.query(dataScope(client, tenant, actor));
      return data(client, r);
    });
  }
  let committed: { result: D } | undefined;
  try {
    return await withTransaction(pools.pool, async (client) => {
      await client.query(appScope(client));
      const r = await registry(client);
      const result = await withTenantData(pools, tenant, actor.userId, (c) => data(c, r), actor);
      committed = { result };
      return result;
    });
  } catch (err) {
    if (committed) {
      const done = committed;
      await withTenantData(pools, tenant, actor.userId, (c) => undoData(c, done.result), actor);
    }
    throw err;
  }
}
