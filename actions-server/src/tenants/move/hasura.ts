// Hasura after the switch: the tenant's own source follows its placement.
// schema/database -> schema/database: the old source is dropped and the new
// one added (both are named tenant_<slug>, so never both at once); -> pooled:
// the source is dropped and its slot under HASURA_MAX_TENANT_SOURCES freed
// (pooled tenants share the platform metadata); pooled -> schema/database:
// the source is added in the slot the move reserved when it was requested.
// Rerun after a crash, it drops and adds again (idempotent).
import type { Pool } from '../../db/tx.ts';
import { dropSource, exposeTenant, type ExposureDeps } from '../../hasura/exposure.ts';
import type { TenantRow } from '../records.ts';

export async function moveHasuraSource(exposure: ExposureDeps | undefined, pool: Pool, tenantId: string): Promise<void> {
  if (!exposure) return;
  const registered = (
    await pool.query<{ source_name: string }>('select source_name from public.hasura_tenant_sources where tenant_id = $1', [tenantId])
  ).rows[0];
  // The old source, or (a pooled tenant's reserved slot) a new one an interrupted run already added.
  if (registered) await dropSource(exposure, registered.source_name);
  const tenant = (await pool.query<TenantRow>('select * from public.tenants where id = $1', [tenantId])).rows[0];
  if (!tenant) return;
  if (tenant.isolation === 'pooled') {
    await pool.query('delete from public.hasura_tenant_sources where tenant_id = $1', [tenantId]);
    return;
  }
  await exposeTenant(exposure, tenant);
}
