// Hasura after the switch: the tenant's own source follows its placement.
// schema/database -> schema/database: the source keeps its name (the schema's)
// and its namespace; one bulk replaces its connection (pg_add_source with
// replace_configuration keeps the tracked tables) and brings tables and
// permissions in line, so GraphQL never lacks the tenant's namespace. Hasura's
// bulk_atomic refuses source commands; a bulk is applied as one metadata
// change, the closest atomic form it accepts. -> pooled: the source is dropped
// and its slot under HASURA_MAX_TENANT_SOURCES freed (pooled tenants share the
// platform metadata); pooled -> schema/database: the source is added in the
// slot the move reserved when it was requested. Rerun after a crash, it
// compares again and sends only what is still missing.
import type { Pool } from '../../db/tx.ts';
import { dropSource, type ExposureDeps } from '../../hasura/exposure.ts';
import { syncTenantSource } from '../../hasura/sync.ts';
import type { TenantRow } from '../records.ts';

export async function moveHasuraSource(exposure: ExposureDeps | undefined, pool: Pool, tenantId: string): Promise<void> {
  if (!exposure) return;
  const tenant = (await pool.query<TenantRow>('select * from public.tenants where id = $1', [tenantId])).rows[0];
  if (!tenant) return;
  if (tenant.isolation === 'pooled') {
    const registered = (
      await pool.query<{ source_name: string }>('select source_name from public.hasura_tenant_sources where tenant_id = $1', [tenantId])
    ).rows[0];
    if (registered) await dropSource(exposure, registered.source_name);
    await pool.query('delete from public.hasura_tenant_sources where tenant_id = $1', [tenantId]);
    return;
  }
  await syncTenantSource(exposure, tenantId);
}
