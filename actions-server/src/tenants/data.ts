// Work on a tenant's product data (members, channels, messages, files) in one
// transaction, whatever the tenant's placement: the search_path names the
// tenant's schema so SQL stays unqualified, and the role is the tenant's own,
// so PostgreSQL itself refuses any other tenant's schema.
import { AppError } from '../http/errors.ts';
import { scopeStatements, withTransaction, type Client, type Pool } from '../db/tx.ts';
import type { Isolation } from './records.ts';

export interface TenantPlacement {
  id: string;
  isolation: Isolation;
  schemaName: string | null;
  dbRole: string | null;
}

export function withTenantData<T>(
  pool: Pool,
  tenant: TenantPlacement,
  userId: string | undefined,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  if (tenant.isolation !== 'schema' || !tenant.schemaName || !tenant.dbRole) {
    throw new AppError('SERVICE_UNAVAILABLE', `Tenant data access for ${tenant.isolation} placement is not available`);
  }
  const { schemaName, dbRole } = tenant;
  return withTransaction(pool, async (client) => {
    await client.query(
      `${scopeStatements(client, { tenantId: tenant.id, userId, dbRole })}; set local search_path = ${client.escapeIdentifier(schemaName)}, public, pg_temp`,
    );
    return fn(client);
  });
}
