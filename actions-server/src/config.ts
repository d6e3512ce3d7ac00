// Configuration is parsed once at boot by one schema that reports every missing
// or invalid variable at once; the rest of the code gets a typed object.
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

    DATABASE_URL: optionalString,
    EMBEDDED_PG_DIR: z.string().default('.data/postgres'),
    EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
    DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),

    BASE_DOMAIN: z
      .string()
      .default('localhost')
      .transform((v) => v.toLowerCase().replace(/^\.+|\.+$/g, '')),
    ENABLE_MULTI_TENANCY: bool.default(true),
    DISABLE_MULTI_TENANCY: bool.default(false),
    DEFAULT_TENANT_SLUG: optionalString,
    ENABLE_CUSTOM_DOMAINS: bool.default(true),
    // Trusted internal callers may name the tenant in X-Tenant-Slug when they
    // present this secret in X-Internal-Secret.
    INTERNAL_API_SECRET: optionalString,
    TENANT_CACHE_TTL_MS: z.coerce.number().int().min(0).default(60_000),
    TENANT_CACHE_MAX: z.coerce.number().int().min(1).default(10_000),
    // Prefix of per-tenant database roles (roles are cluster-wide; two
    // deployments sharing one PostgreSQL server need different prefixes).
    TENANT_ROLE_PREFIX: z
      .string()
      .regex(/^([a-z][a-z0-9_]{0,15})?$/, 'lower-case letters, digits and _, at most 16, starting with a letter')
      .default(''),
    TENANT_MIGRATION_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),

    JWT_SECRET: optionalString,
    JWT_ALGORITHM: z.enum(['HS256', 'RS256']).default('HS256'),
    JWT_PRIVATE_KEY: optionalString,
    JWT_PUBLIC_KEY: optionalString,
    JWT_ISSUER: z.string().default('hasura-saas-backend'),
    JWT_AUDIENCE: z.string().default('hasura-saas'),
    JWT_EXPIRES_IN_SECONDS: z.coerce.number().int().min(60).default(3600),
  })
  .superRefine((env, ctx) => {
    if (env.DISABLE_MULTI_TENANCY && !env.DEFAULT_TENANT_SLUG) {
      ctx.addIssue({ code: 'custom', path: ['DEFAULT_TENANT_SLUG'], message: 'required when DISABLE_MULTI_TENANCY=true' });
    }
    if (env.JWT_ALGORITHM === 'HS256') {
      if (env.JWT_SECRET !== undefined && env.JWT_SECRET.length < 32) {
        ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must be at least 32 characters' });
      }
      if (env.JWT_SECRET === undefined && env.NODE_ENV === 'production') {
        ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'required in production' });
      }
    } else {
      if (!env.JWT_PRIVATE_KEY) ctx.addIssue({ code: 'custom', path: ['JWT_PRIVATE_KEY'], message: 'required for RS256' });
      if (!env.JWT_PUBLIC_KEY) ctx.addIssue({ code: 'custom', path: ['JWT_PUBLIC_KEY'], message: 'required for RS256' });
    }
  });

export type Env = z.infer<typeof EnvSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(source: Record<string, string | undefined> = process.env): Env {
  const parsed = EnvSchema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const env = parsed.data;
  // ENABLE_MULTI_TENANCY=false is the seeds' spelling of single-tenant mode.
  if (!env.ENABLE_MULTI_TENANCY) env.DISABLE_MULTI_TENANCY = true;
  return env;
}
