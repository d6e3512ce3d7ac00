// Edge validation for tenant input. The database re-checks the slug rules
// (tenants_slug_format, tenants_slug_not_reserved), so these only give callers
// a clear message early.
import { z } from 'zod';
import { TENANT_DATABASE_ENV_RE } from '../core/config.ts';
import { brandingSchema } from '../branding/schemas.ts';
import { newPasswordSchema } from '../auth/password-policy.ts';

export const SLUG_RE = /^[a-z][a-z0-9-]{1,39}$/;

/**
 * A string of at most `max` characters matching `re`. The length is checked
 * first and the pattern only runs on a short string (zod would run a
 * `.regex()` even after `.max()` failed, on whatever length arrived).
 */
export function boundedString(max: number, re: RegExp, message: string, tooLong = `must be at most ${max} characters`) {
  return z.string().superRefine((value, ctx) => {
    if (value.length > max) ctx.addIssue({ code: 'custom', message: tooLong });
    else if (!re.test(value)) ctx.addIssue({ code: 'custom', message });
  });
}

export const slugSchema = z
  .string({ error: 'slug is required' })
  .pipe(boundedString(40, SLUG_RE, 'a slug is 2-40 characters: lower-case letters, digits and hyphens, starting with a letter'));

/**
 * Linear: the domain is dot-separated labels that cannot contain a dot, so no
 * two quantifiers compete for the same characters (the former
 * /^[^@\s]+@[^@\s]+\.[^@\s]+$/ was quadratic on "a@....").
 */
export const EMAIL_RE = /^[^@\s]+@[^@\s.]+(?:\.[^@\s.]+)+$/;

export const emailSchema = z
  .string()
  .max(1_000, 'must be an email address')
  .trim()
  .toLowerCase()
  .pipe(boundedString(254, EMAIL_RE, 'must be an email address'));

// A chosen password: length and the common-password list (auth/password-policy.ts).
export const passwordSchema = newPasswordSchema;

export const planIdSchema = boundedString(31, /^[a-z][a-z0-9_]{1,30}$/, 'unknown plan', 'unknown plan');

export const isolationSchema = z.enum(['schema', 'pooled', 'database']);

// 'migrating': the final step of a move between placements (tenants/move/): reads are served, writes answered 503.
export const tenantStatusSchema = z.enum(['trial', 'active', 'suspended', 'cancelled', 'archived', 'migrating']);

// Branding fields live with the branding area (colour and font tokens, custom CSS, email sender).
export { brandingSchema } from '../branding/schemas.ts';

export const createTenantSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    slug: slugSchema,
    ownerEmail: emailSchema,
    ownerName: z.string().trim().min(1).max(200),
    ownerPassword: passwordSchema,
    plan: planIdSchema.default('free'),
    trial: z.boolean().default(false),
    // Platform admins only (provisionTenant refuses them to anyone else): the
    // tier, and for a database tenant the setting naming another server.
    isolation: isolationSchema.optional(),
    databaseUrlEnv: boundedString(60, TENANT_DATABASE_ENV_RE, 'must name a TENANT_DATABASE_URL_<NAME> setting').optional(),
  })
  .strict()
  .refine((v) => v.databaseUrlEnv === undefined || v.isolation === 'database', {
    message: 'databaseUrlEnv goes with isolation "database"',
    path: ['databaseUrlEnv'],
  });
export type CreateTenantInput = z.infer<typeof createTenantSchema>;

export const domainSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(boundedString(253, /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as chat.example.com'));

// Tenant settings are a free-form JSON object the tenant's admins write, so
// its size, nesting and number of keys are capped (the database caps the
// stored size as well: tenant_settings_size).
export const SETTINGS_MAX_BYTES = 16_384;
export const SETTINGS_MAX_DEPTH = 5;
export const SETTINGS_MAX_KEYS = 100;

/** Keys counted over the whole tree; undefined when within the caps, else what is wrong. */
function settingsProblem(value: unknown): string | undefined {
  let keys = 0;
  const walk = (v: unknown, depth: number): string | undefined => {
    if (typeof v !== 'object' || v === null) return undefined;
    if (depth > SETTINGS_MAX_DEPTH) return `nested deeper than ${SETTINGS_MAX_DEPTH} levels`;
    const children = Array.isArray(v) ? v : Object.values(v);
    if (!Array.isArray(v)) keys += children.length;
    if (keys > SETTINGS_MAX_KEYS) return `more than ${SETTINGS_MAX_KEYS} keys`;
    for (const child of children) {
      const problem = walk(child, depth + 1);
      if (problem) return problem;
    }
    return undefined;
  };
  const problem = walk(value, 1);
  if (problem) return problem;
  if (Buffer.byteLength(JSON.stringify(value)) > SETTINGS_MAX_BYTES) return `larger than ${SETTINGS_MAX_BYTES} bytes`;
  return undefined;
}

export const settingsSchema = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const problem = settingsProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `settings must not be ${problem}` });
});

export const updateTenantSchema = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    branding: brandingSchema.optional(),
    settings: settingsSchema.optional(),
    customDomain: domainSchema.nullable().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'nothing to update');
export type UpdateTenantInput = z.infer<typeof updateTenantSchema>;

export const loginSchema = z.object({ email: emailSchema, password: z.string().min(1).max(200) }).strict();

// --- answers ----------------------------------------------------------------------------------

const isoTime = z.iso.datetime({ offset: true });

/** A tenant as its members and platform admins see it. */
export const tenantViewSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    slug: z.string(),
    status: tenantStatusSchema,
    isolation: isolationSchema,
    plan: z.string(),
    customDomain: z.string().nullable(),
    customDomainVerified: z.boolean(),
    trialEndsAt: isoTime.nullable(),
    suspendedAt: isoTime.nullable(),
    cancelledAt: isoTime.nullable(),
    branding: z.record(z.string(), z.unknown()),
    createdAt: isoTime,
    updatedAt: isoTime,
  })
  .strict()
  .meta({ id: 'Tenant' });

/** With its settings, for its members. */
export const tenantWithSettingsSchema = tenantViewSchema
  .extend({ settings: z.record(z.string(), z.unknown()) })
  .meta({ id: 'TenantWithSettings' });

/** What anyone may read about a tenant (by slug or domain). */
export const publicTenantSchema = z
  .object({ name: z.string(), slug: z.string(), status: tenantStatusSchema, branding: z.record(z.string(), z.unknown()) })
  .strict()
  .meta({ id: 'PublicTenant' });
