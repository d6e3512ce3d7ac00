// Entitlements: what a plan includes (features and limits) and a tenant's own
// overrides of both. Platform admins set them (REST, CLI, Hasura action); every
// change is audited by the database (plans: platform_audit_logs; a tenant's
// overrides: its own chain, through the tenant_settings trigger). Features that
// guard data are enforced by the database itself (public.require_feature);
// requireFeature is the server-side guard for the rest.
import { z } from 'zod';
import { AppError } from '../core/errors.ts';
import { asSystem, asTenant, type Pool } from '../db/tx.ts';
import type { Actor } from '../core/actor.ts';

const featureName = z.string().regex(/^[a-z][a-z0-9_]{1,40}$/, 'a feature name is lower-case letters, digits and _');
const maxLimit = z.number().int().min(-1).max(Number.MAX_SAFE_INTEGER);
const rateLimit = z.number().int().min(1).max(2_147_483_647);

export const LIMIT_KEYS = [
  'max_users',
  'max_channels',
  'max_storage_bytes',
  'max_api_calls_month',
  'rate_limit_per_minute',
  'rate_limit_per_hour',
] as const;
export type LimitKey = (typeof LIMIT_KEYS)[number];

const limitsShape = <T extends z.ZodType>(wrap: (s: z.ZodNumber) => T) =>
  z
    .object({
      max_users: wrap(maxLimit).optional(),
      max_channels: wrap(maxLimit).optional(),
      max_storage_bytes: wrap(maxLimit).optional(),
      max_api_calls_month: wrap(maxLimit).optional(),
      rate_limit_per_minute: wrap(rateLimit).optional(),
      rate_limit_per_hour: wrap(rateLimit).optional(),
    })
    .strict();

/** A plan's features (true/false) and limits (-1 = unlimited); keys left out are unchanged. */
export const planEntitlementsSchema = z
  .object({
    features: z.record(featureName, z.boolean()).optional(),
    limits: limitsShape((s) => s).optional(),
  })
  .strict()
  .refine((v) => v.features !== undefined || v.limits !== undefined, 'give features or limits');
export type PlanEntitlementsInput = z.input<typeof planEntitlementsSchema>;

/** A tenant's overrides: a value sets one, null removes it (the plan's value applies again). */
export const tenantEntitlementsSchema = z
  .object({
    features: z.record(featureName, z.boolean().nullable()).optional(),
    limits: limitsShape((s) => s.nullable()).optional(),
  })
  .strict()
  .refine((v) => v.features !== undefined || v.limits !== undefined, 'give features or limits');
export type TenantEntitlementsInput = z.input<typeof tenantEntitlementsSchema>;

export interface PlanEntitlements {
  plan: string;
  features: Record<string, boolean>;
  limits: Record<LimitKey, number>;
}

export interface TenantEntitlements {
  tenantId: string;
  plan: string;
  /** The plan's features with the tenant's overrides on top. */
  features: Record<string, boolean>;
  /** The plan's limits with the tenant's overrides on top (-1 = unlimited). */
  limits: Record<LimitKey, number>;
  overrides: { features: Record<string, boolean>; limits: Partial<Record<LimitKey, number>> };
  /** For each feature the tenant lacks, the plans that include it. */
  availableIn: Record<string, string[]>;
}

function parse<T extends z.ZodType>(schema: T, input: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    throw new AppError('VALIDATION_FAILED', `Invalid ${what}: ${issues[0]?.path || what}: ${issues[0]?.message ?? 'invalid'}`, { issues });
  }
  return parsed.data;
}

const numbers = (row: Record<string, unknown>): Record<LimitKey, number> =>
  Object.fromEntries(LIMIT_KEYS.map((k) => [k, Number(row[k])])) as Record<LimitKey, number>;

const PLAN_COLUMNS = `id, features, ${LIMIT_KEYS.join(', ')}`;

async function readPlan(pool: Pool, planId: string): Promise<PlanEntitlements> {
  const row = (
    await pool.query<Record<string, unknown> & { id: string; features: Record<string, boolean> }>(
      `select ${PLAN_COLUMNS} from public.plans where id = $1`,
      [planId],
    )
  ).rows[0];
  if (!row) throw new AppError('NOT_FOUND', `Unknown plan '${planId}'`, { plan: planId });
  return { plan: row.id, features: row.features, limits: numbers(row) };
}

/** Sets a plan's features and limits (platform admins); audited in platform_audit_logs. */
export async function setPlanEntitlements(pool: Pool, planId: string, rawInput: unknown, actor: Actor): Promise<PlanEntitlements> {
  const input = parse(planEntitlementsSchema, rawInput, 'plan entitlements');
  await asSystem(
    pool,
    async (client) => {
      const limits = input.limits ?? {};
      const sets = ['features = features || $2::jsonb', ...Object.keys(limits).map((k, i) => `${client.escapeIdentifier(k)} = $${i + 3}`)];
      const { rowCount } = await client.query(`update public.plans set ${sets.join(', ')} where id = $1`, [
        planId,
        JSON.stringify(input.features ?? {}),
        ...Object.values(limits),
      ]);
      if (!rowCount) throw new AppError('NOT_FOUND', `Unknown plan '${planId}'`, { plan: planId });
    },
    actor,
  );
  return readPlan(pool, planId);
}

/** Sets or removes a tenant's feature and limit overrides (platform admins); audited in the tenant's chain. */
export async function setTenantEntitlements(pool: Pool, tenantId: string, rawInput: unknown, actor: Actor): Promise<TenantEntitlements> {
  const input = parse(tenantEntitlementsSchema, rawInput, 'tenant entitlements');
  const split = (o: Record<string, unknown> | undefined) => ({
    set: Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== null && v !== undefined)),
    remove: Object.entries(o ?? {})
      .filter(([, v]) => v === null)
      .map(([k]) => k),
  });
  const features = split(input.features);
  const limits = split(input.limits);
  await asSystem(
    pool,
    async (client) => {
      const { rowCount } = await client.query(
        `update public.tenant_settings
            set features = (features || $2::jsonb) - $3::text[],
                limit_overrides = (limit_overrides || $4::jsonb) - $5::text[]
          where tenant_id = $1`,
        [tenantId, JSON.stringify(features.set), features.remove, JSON.stringify(limits.set), limits.remove],
      );
      if (!rowCount) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
    },
    actor,
  );
  return readTenantEntitlements(pool, tenantId);
}

const ENTITLEMENTS_SQL = `
  select t.id, t.plan, public.tenant_features(t.id) as features,
         coalesce(s.features, '{}'::jsonb) as feature_overrides,
         coalesce(s.limit_overrides, '{}'::jsonb) as limit_overrides,
         l.max_users, l.max_channels, l.max_storage_bytes, l.max_api_calls_month, l.rate_limit_per_minute, l.rate_limit_per_hour,
         (select coalesce(jsonb_object_agg(f.key, f.plans), '{}'::jsonb)
            from (select e.key, jsonb_agg(p.id order by p.sort_order, p.id) as plans
                    from public.plans p cross join lateral jsonb_each(p.features) e
                   where e.value = 'true'::jsonb group by e.key) f) as available_in
  from public.tenants t
  left join public.tenant_settings s on s.tenant_id = t.id
  cross join lateral public.tenant_effective_limits(t.id) l
  where t.id = $1`;

function toEntitlements(row: Record<string, unknown> | undefined): TenantEntitlements {
  if (!row) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  const features = row['features'] as Record<string, boolean>;
  const availableIn = row['available_in'] as Record<string, string[]>;
  return {
    tenantId: row['id'] as string,
    plan: row['plan'] as string,
    features,
    limits: numbers(row),
    overrides: {
      features: row['feature_overrides'] as Record<string, boolean>,
      limits: row['limit_overrides'] as Partial<Record<LimitKey, number>>,
    },
    availableIn: Object.fromEntries(Object.entries(availableIn).filter(([k]) => features[k] !== true)),
  };
}

async function readTenantEntitlements(pool: Pool, tenantId: string): Promise<TenantEntitlements> {
  return toEntitlements((await pool.query<Record<string, unknown>>(ENTITLEMENTS_SQL, [tenantId])).rows[0]);
}

/** The effective set for a member, read as `app` under RLS (platform admins read it as the owner). */
export async function getTenantEntitlements(
  pool: Pool,
  tenantId: string,
  reader: { userId: string; platformAdmin: boolean },
): Promise<TenantEntitlements> {
  if (reader.platformAdmin) return readTenantEntitlements(pool, tenantId);
  return asTenant(pool, { tenantId, userId: reader.userId, dbRole: 'app' }, async (client) =>
    toEntitlements((await client.query<Record<string, unknown>>(ENTITLEMENTS_SQL, [tenantId])).rows[0]),
  );
}

/**
 * The server-side guard for features that guard no data of their own: 403
 * FEATURE_NOT_IN_PLAN naming the feature and the plans that include it. The
 * same function the database's own guards raise through.
 */
export async function requireFeature(pool: Pool, tenantId: string, feature: string): Promise<void> {
  await pool.query('select public.require_feature(t.id, t.plan, $2) from public.tenants t where t.id = $1', [tenantId, feature]);
}
