// Factories go through the real services: a tenant made here is made the way
// POST /api/tenants/create makes one.
import { createLogger } from '../../actions-server/src/log.ts';
import { provisionTenant, type ProvisioningStep } from '../../actions-server/src/tenants/provision.ts';
import { createTenantSchema } from '../../actions-server/src/tenants/schemas.ts';
import type { TenantRow } from '../../actions-server/src/tenants/records.ts';
import type { TestDb } from './db.ts';

export const OWNER_PASSWORD = 'correct horse battery';

export interface MadeTenant {
  tenant: TenantRow;
  ownerId: string;
  ownerEmail: string;
}

export async function makeTenant(
  db: TestDb,
  slug: string,
  opts: { plan?: string; trial?: boolean; steps?: ProvisioningStep[]; templateDir?: string; email?: string } = {},
): Promise<MadeTenant> {
  const ownerEmail = opts.email ?? `owner@${slug}.example.com`;
  const input = createTenantSchema.parse({
    name: `${slug} Inc`,
    slug,
    ownerEmail,
    ownerName: `Owner of ${slug}`,
    ownerPassword: OWNER_PASSWORD,
    plan: opts.plan ?? 'free',
    trial: opts.trial ?? false,
  });
  const { tenant, ownerId } = await provisionTenant(
    { env: db.env(), pool: db.pool, log: createLogger('silent'), steps: opts.steps, templateDir: opts.templateDir },
    input,
  );
  return { tenant, ownerId, ownerEmail };
}
