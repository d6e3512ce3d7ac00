// Factories go through the real services: a tenant made here is made the way
// POST /api/tenants/create makes one.
import { createLogger } from '../../actions-server/src/core/log.ts';
import { provisionTenant, type ProvisioningStep } from '../../actions-server/src/tenants/provision.ts';
import { createTenantSchema } from '../../actions-server/src/tenants/schemas.ts';
import type { Isolation, TenantRow } from '../../actions-server/src/tenants/records.ts';
import type { SourceCapacity } from '../../actions-server/src/tenants/placement.ts';
import type { TestDb } from './db.ts';
import { hashPassword } from '../../actions-server/src/auth/passwords.ts';

export const OWNER_PASSWORD = 'correct horse battery';

export interface MadeTenant {
  tenant: TenantRow;
  ownerId: string;
  ownerEmail: string;
}

export async function makeTenant(
  db: TestDb,
  slug: string,
  opts: {
    plan?: string;
    trial?: boolean;
    steps?: ProvisioningStep[];
    templateDir?: string;
    email?: string;
    /** Chosen as a platform admin would; else the plan's placement, then DEFAULT_ISOLATION (schema). */
    isolation?: Isolation;
    databaseUrlEnv?: string;
    capacity?: SourceCapacity;
  } = {},
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
    ...(opts.isolation ? { isolation: opts.isolation } : {}),
    ...(opts.databaseUrlEnv ? { databaseUrlEnv: opts.databaseUrlEnv } : {}),
  });
  const { tenant, ownerId } = await provisionTenant(
    {
      env: db.env(),
      pool: db.pool,
      log: createLogger('silent'),
      steps: opts.steps,
      templateDir: opts.templateDir,
      databases: db.databases,
      capacity: opts.capacity,
    },
    input,
    { platformAdmin: opts.isolation !== undefined },
  );
  return { tenant, ownerId, ownerEmail };
}

export async function makePlatformAdmin(
  db: TestDb,
  email = 'ops@platform.example.com',
): Promise<{ email: string; password: string; id: string }> {
  const password = 'platform-admin-password';
  const { rows } = await db.pool.query<{ id: string }>(
    `insert into public.identities (email, name, password_hash, is_platform_admin) values ($1, 'Ops', $2, true) returning id`,
    [email, await hashPassword(password)],
  );
  return { email, password, id: rows[0]!.id };
}

/** Adds an identity to a tenant with a role, the way an accepted invitation does. */
export async function addMember(
  db: TestDb,
  tenant: TenantRow,
  email: string,
  role: 'owner' | 'admin' | 'member',
): Promise<{ id: string; email: string; password: string }> {
  const password = 'member-password-123';
  const { rows } = await db.pool.query<{ id: string }>(
    `insert into public.identities (email, name, password_hash) values ($1, $1, $2) returning id`,
    [email, await hashPassword(password)],
  );
  const id = rows[0]!.id;
  await db.pool.query('insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, $3)', [tenant.id, id, role]);
  return { id, email, password };
}
