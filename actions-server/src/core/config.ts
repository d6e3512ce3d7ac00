// Configuration is parsed once at boot by one schema that reports every missing
// or invalid variable at once; the rest of the code gets a typed object.
import { z } from 'zod';
import { tenantDatabaseUrlProblem } from '../hasura/settings.ts';
import { parseStripeApiBase } from '../billing/stripe-client.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** Names of the variables that locate another server of database-tier tenants (tenants.database_url_env). */
export const TENANT_DATABASE_ENV_RE = /^TENANT_DATABASE_URL_[A-Z0-9_]{1,40}$/;

const postgresUrl = z.string().refine((v) => {
  try {
    return ['postgres:', 'postgresql:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'must be a postgres:// URL');

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
    // Where a new tenant goes when neither a platform admin nor its plan's
    // placement says (schema: the seeds' default).
    DEFAULT_ISOLATION: z.enum(['schema', 'pooled', 'database']).default('schema'),
    // Other PostgreSQL servers for database-tier tenants: every variable named
    // TENANT_DATABASE_URL_<NAME> (collected by loadConfig), a URL of a role that
    // may create databases and roles there. The registry stores the variable's
    // name (tenants.database_url_env), never the URL.
    TENANT_DATABASE_SERVERS: z.record(z.string().regex(TENANT_DATABASE_ENV_RE), postgresUrl).default({}),
    // Per-process pools of database-tier tenants: connections each, open pools
    // at most (the least recently used idle one is closed for a new one), and
    // how long an unused pool stays open.
    TENANT_DB_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(5),
    TENANT_DB_POOLS_MAX: z.coerce.number().int().min(1).max(10_000).default(50),
    TENANT_DB_POOL_IDLE_MS: z.coerce.number().int().min(1_000).default(60_000),

    // Redis: rate-limit counters shared by every process (in memory when unset).
    REDIS_URL: optionalString,
    // Redis commands fail after this instead of holding a request up.
    REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(500),
    // Per-plan, per-tenant rate limits on tenant hosts (REST and the auth webhook).
    RATE_LIMIT_ENABLED: bool.default(true),
    // When the rate-limit store is unreachable: let requests through, or answer 503.
    RATE_LIMIT_FAIL_MODE: z.enum(['open', 'closed']).default('open'),
    // Prefix of rate-limit keys in Redis (deployments or test files sharing one Redis differ here).
    RATE_LIMIT_KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{0,64}$/, 'letters, digits and : _ . -, at most 64')
      .default('saas:'),
    // Plan limits (with per-tenant overrides) are cached this long per process.
    LIMITS_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5_000),
    // API calls are counted in memory and written this often (and on shutdown).
    USAGE_FLUSH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),

    // The job runner (graphile-worker): runs inside `npm start` unless false; `npm run worker` runs it alone.
    WORKER_ENABLED: bool.default(true),
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
    // How often an idle worker looks for due jobs (new jobs also wake it through LISTEN/NOTIFY).
    WORKER_POLL_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),

    JWT_SECRET: optionalString,
    JWT_ALGORITHM: z.enum(['HS256', 'RS256']).default('HS256'),
    JWT_PRIVATE_KEY: optionalString,
    JWT_PUBLIC_KEY: optionalString,
    JWT_ISSUER: z.string().default('hasura-saas-backend'),
    JWT_AUDIENCE: z.string().default('hasura-saas'),
    // Access-token lifetime: short, because in Hasura JWT mode it is how long a removed member keeps GraphQL access.
    JWT_EXPIRES_IN_SECONDS: z.coerce.number().int().min(60).default(600),
    // Refresh tokens (rotating, single use) keep a session alive this long without a new login.
    REFRESH_TOKEN_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(30),
    // Mail goes to this SMTP server (smtp://user:pass@host:port, smtps://...); unset: stored in the outbox table.
    SMTP_URL: optionalString,
    // Sender address of every message (the tenant's name is the display name).
    MAIL_FROM: optionalString,
    // Scheme of the links mailed to people (reset, verification, invitation).
    PUBLIC_URL_SCHEME: z.enum(['https', 'http']).default('https'),
    // How long an invitation token can be accepted.
    INVITATION_TTL_DAYS: z.coerce.number().int().min(1).max(365).default(7),

    // Billing is enabled when STRIPE_SECRET_KEY is set.
    STRIPE_SECRET_KEY: optionalString,
    STRIPE_WEBHOOK_SECRET: optionalString,
    // A Stripe-compatible endpoint (stripe-mock, the test double) instead of api.stripe.com.
    STRIPE_API_BASE: optionalString,
    // Checked when a checkout asks for that plan and interval, so a missing one is a clear error, not a boot failure.
    STRIPE_PRICE_PRO_MONTHLY: optionalString,
    STRIPE_PRICE_PRO_YEARLY: optionalString,
    STRIPE_PRICE_ENTERPRISE_MONTHLY: optionalString,
    STRIPE_PRICE_ENTERPRISE_YEARLY: optionalString,
    // Days a tenant keeps working after a failed payment before it is suspended.
    BILLING_GRACE_DAYS: z.coerce.number().int().min(0).max(365).default(7),

    // Hasura (optional: without an endpoint the per-tenant metadata sync is skipped).
    // HASURA_ENDPOINT and HASURA_ADMIN_SECRET are nself's names for the same values;
    // the endpoint may carry /v1/graphql or not.
    HASURA_GRAPHQL_ENDPOINT: optionalString,
    HASURA_ENDPOINT: optionalString,
    HASURA_GRAPHQL_ADMIN_SECRET: optionalString,
    HASURA_ADMIN_SECRET: optionalString,
    // How Hasura reaches this database for per-tenant sources, as a URL without a
    // password (it is stored in Hasura's metadata); Hasura's own environment
    // supplies the password (PGPASSWORD).
    HASURA_TENANT_DATABASE_URL: optionalString,
    // The same for each other server of database-tier tenants: HASURA_<variable>
    // (e.g. HASURA_TENANT_DATABASE_URL_EU for TENANT_DATABASE_URL_EU), collected by loadConfig.
    HASURA_TENANT_DATABASE_URLS: z.record(z.string().regex(TENANT_DATABASE_ENV_RE), z.string()).default({}),
    // Every tracked table costs Hasura memory and metadata time (DESIGN.md §10).
    HASURA_MAX_TENANT_SOURCES: z.coerce.number().int().min(0).default(200),
    // Past the cap (schema and database tenants with a source of their own):
    // place the new tenant pooled (DESIGN.md §10), refuse it, or create it
    // without a GraphQL source.
    HASURA_SOURCE_CAP_POLICY: z.enum(['pooled', 'refuse', 'skip']).default('pooled'),
    HASURA_TENANT_SOURCE_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100).default(4),
    HASURA_METADATA_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    HASURA_METADATA_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
    // Shared secrets Hasura sends with action calls (X-Actions-Secret) and with
    // event and cron deliveries (X-Hasura-Event-Secret); unset = those endpoints answer 503.
    ACTIONS_SECRET: optionalString,
    EVENTS_SECRET: optionalString,
    // Lifetime the auth webhook gives a session (in Hasura CE: how long a
    // websocket connection lives before it is re-authenticated). At most 1 s:
    // a removal, demotion, suspension or logout must end access within 1 s.
    HASURA_AUTH_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(1).default(1),
  })
  .superRefine((env, ctx) => {
    const hasuraEndpoint = env.HASURA_GRAPHQL_ENDPOINT ?? env.HASURA_ENDPOINT;
    if (hasuraEndpoint !== undefined) {
      if (!/^https?:\/\/[^/]/.test(hasuraEndpoint)) {
        ctx.addIssue({ code: 'custom', path: ['HASURA_GRAPHQL_ENDPOINT'], message: 'must be an http(s) URL' });
      }
      if ((env.HASURA_GRAPHQL_ADMIN_SECRET ?? env.HASURA_ADMIN_SECRET) === undefined) {
        ctx.addIssue({ code: 'custom', path: ['HASURA_GRAPHQL_ADMIN_SECRET'], message: 'required when HASURA_GRAPHQL_ENDPOINT is set' });
      }
      if (env.HASURA_TENANT_DATABASE_URL === undefined) {
        ctx.addIssue({ code: 'custom', path: ['HASURA_TENANT_DATABASE_URL'], message: 'required when HASURA_GRAPHQL_ENDPOINT is set' });
      }
    }
    if (env.HASURA_TENANT_DATABASE_URL !== undefined) {
      const problem = tenantDatabaseUrlProblem(env.HASURA_TENANT_DATABASE_URL);
      if (problem) ctx.addIssue({ code: 'custom', path: ['HASURA_TENANT_DATABASE_URL'], message: problem });
    }
    for (const [name, url] of Object.entries(env.HASURA_TENANT_DATABASE_URLS)) {
      const problem = tenantDatabaseUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', path: [`HASURA_${name}`], message: problem });
      if (!(name in env.TENANT_DATABASE_SERVERS)) {
        ctx.addIssue({ code: 'custom', path: [`HASURA_${name}`], message: `names no server: ${name} is not set` });
      }
    }
    if (hasuraEndpoint !== undefined) {
      // Hasura reaches a database tenant's server through its own login there.
      for (const name of Object.keys(env.TENANT_DATABASE_SERVERS)) {
        if (!(name in env.HASURA_TENANT_DATABASE_URLS)) {
          ctx.addIssue({ code: 'custom', path: [`HASURA_${name}`], message: `required when ${name} and HASURA_GRAPHQL_ENDPOINT are set` });
        }
      }
    }
    for (const key of ['ACTIONS_SECRET', 'EVENTS_SECRET'] as const) {
      const value = env[key];
      if (value !== undefined && value.length < 16) ctx.addIssue({ code: 'custom', path: [key], message: 'must be at least 16 characters' });
    }
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
    if (env.SMTP_URL !== undefined && !/^smtps?:\/\/[^/]/.test(env.SMTP_URL)) {
      ctx.addIssue({ code: 'custom', path: ['SMTP_URL'], message: 'must be an smtp:// or smtps:// URL' });
    }
    if (env.STRIPE_SECRET_KEY !== undefined) {
      if (!/^(sk|rk)_/.test(env.STRIPE_SECRET_KEY)) {
        ctx.addIssue({ code: 'custom', path: ['STRIPE_SECRET_KEY'], message: 'must be a Stripe secret (sk_...) or restricted (rk_...) key' });
      }
      // Without it no webhook can be verified, and billing never sees a payment.
      if (env.STRIPE_WEBHOOK_SECRET === undefined) {
        ctx.addIssue({ code: 'custom', path: ['STRIPE_WEBHOOK_SECRET'], message: 'required when STRIPE_SECRET_KEY is set' });
      }
    }
    if (env.STRIPE_API_BASE !== undefined) {
      try {
        parseStripeApiBase(env.STRIPE_API_BASE);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['STRIPE_API_BASE'], message: (err as Error).message });
      }
    }
  });

export type Env = z.infer<typeof EnvSchema>;

// Collected by loadConfig from every variable with this prefix: documented as a pattern.
const COLLECTED: Record<string, string> = {
  TENANT_DATABASE_SERVERS: 'TENANT_DATABASE_URL_<NAME>',
  HASURA_TENANT_DATABASE_URLS: 'HASURA_TENANT_DATABASE_URL_<NAME>',
};

/** Every variable the server reads (README's configuration table must list each: a test checks). */
export const ENV_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape).map((k) => COLLECTED[k] ?? k);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Variables whose names share a prefix, keyed by the name without `strip` (a dynamic family of settings). */
function collect(source: Record<string, string | undefined>, pattern: RegExp, strip = ''): Record<string, string> {
  return Object.fromEntries(
    Object.entries(source).flatMap(([name, value]) =>
      pattern.test(name) && value !== undefined && value.trim() !== '' ? [[name.slice(strip.length), value]] : [],
    ),
  );
}

export function loadConfig(source: Record<string, string | undefined> = process.env): Env {
  const parsed = EnvSchema.safeParse({
    ...source,
    TENANT_DATABASE_SERVERS: collect(source, /^TENANT_DATABASE_URL_/),
    HASURA_TENANT_DATABASE_URLS: collect(source, /^HASURA_TENANT_DATABASE_URL_/, 'HASURA_'),
  });
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  const env = parsed.data;
  // ENABLE_MULTI_TENANCY=false is the seeds' spelling of single-tenant mode.
  if (!env.ENABLE_MULTI_TENANCY) env.DISABLE_MULTI_TENANCY = true;
  return env;
}
