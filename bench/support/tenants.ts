// A tenant made through the project's own sign-up service (owner identity,
// membership, schema, triggers), for benchmarks that need a real one.
import { createLogger } from '../../actions-server/src/core/log.ts';
import { provisionTenant, type ProvisioningStep } from '../../actions-server/src/tenants/provision.ts';
import { createTenantSchema } from '../../actions-server/src/tenants/schemas.ts';
import type { TenantRow } from '../../actions-server/src/tenants/records.ts';
import type { Pool } from '../../actions-server/src/db/tx.ts';
import type { BenchDb } from './cluster.ts';

export interface BenchTenant {
  tenant: TenantRow;
  ownerId: string;
}

export async function signUp(
  db: BenchDb,
  slug: string,
  opts: { plan?: string; pool?: Pool; steps?: ProvisioningStep[] } = {},
): Promise<BenchTenant> {
  const input = createTenantSchema.parse({
    name: `Bench ${slug}`,
    slug,
    ownerEmail: `owner@${slug}.bench.example.com`,
    ownerName: `Owner of ${slug}`,
    ownerPassword: 'bench-password-123',
    plan: opts.plan ?? 'free',
  });
  // As a platform admin would: paid plans without a trial or checkout.
  return provisionTenant({ env: db.env(), pool: opts.pool ?? db.pool, log: createLogger('silent'), steps: opts.steps ?? [] }, input, {
    platformAdmin: true,
  });
}

/** Per-tenant overrides of plan numbers (tenant_settings.limit_overrides), as an operator sets them. */
export async function overrideLimits(db: BenchDb, tenantId: string, overrides: Record<string, number>): Promise<void> {
  await db.pool.query('update public.tenant_settings set limit_overrides = limit_overrides || $2::jsonb where tenant_id = $1', [
    tenantId,
    JSON.stringify(overrides),
  ]);
}
