// Configuration is parsed once at boot by one schema that reports every missing
// or invalid variable at once; the rest of the code gets a typed object.
import { isIP } from 'node:net';
import { z } from 'zod';
import { trimChar } from './text.ts';
import { tenantDatabaseUrlProblem } from '../hasura/settings.ts';
import { parseStripeApiBase } from '../billing/stripe-client.ts';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no', '']).transform((v) => v === 'true' || v === '1' || v === 'yes');

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

const DOMAIN_RE = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/** Lower case, without leading or trailing dots (a loop: no regex to backtrack). */
function bareDomain(value: string): string {
  return trimChar(value, '.').toLowerCase();
}

/** Comma-separated domain names (leading dots ignored), lower-cased. */
const domainList = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => bareDomain(s.trim()))
      .filter((s) => s !== ''),
  )
  .refine((list) => list.every((d) => d.length <= 253 && DOMAIN_RE.test(d)), 'comma-separated domain names such as example.com');

/** What Resolver.setServers accepts: an IP, IP:port, [IPv6] or [IPv6]:port. */
function dnsServerValid(entry: string): boolean {
  if (entry.length > 64) return false;
  const bracketed = /^\[([\d.:a-f]+)\](?::(\d{1,5}))?$/i.exec(entry);
  if (bracketed) return isIP(bracketed[1]!) === 6 && (bracketed[2] === undefined || Number(bracketed[2]) <= 65535);
  if (isIP(entry) !== 0) return true;
  const colon = entry.lastIndexOf(':');
  return (
    colon > 0 && isIP(entry.slice(0, colon)) === 4 && /^\d{1,5}$/.test(entry.slice(colon + 1)) && Number(entry.slice(colon + 1)) <= 65535
  );
}

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: optionalString.pipe(postgresUrl.optional()),
  EMBEDDED_PG_DIR: z.string().default('.data/postgres'),
  EMBEDDED_PG_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  DB_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
  // A request waits at most this long for a pooled connection, then gets 503 DATABASE_UNAVAILABLE.
  DB_POOL_ACQUIRE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  // Per request transaction (SET LOCAL; 0 = off): one statement's run time, the wait for a lock, idle time inside the transaction.
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(30_000),
  DB_LOCK_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: z.coerce.number().int().min(0).default(60_000),
  // Boot waits for PostgreSQL: this many connection attempts, backing off up to the delay between two.
  DB_BOOT_ATTEMPTS: z.coerce.number().int().min(1).max(1_000).default(30),
  DB_BOOT_MAX_DELAY_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  // On SIGTERM/SIGINT: how long in-flight requests and running jobs may take to finish before they are cut.
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(25_000),

  BASE_DOMAIN: z.string().default('localhost').transform(bareDomain),
  // The documented name for BASE_DOMAIN, read when BASE_DOMAIN is not set.
  NEXT_PUBLIC_BASE_DOMAIN: optionalString,
  ENABLE_MULTI_TENANCY: bool.default(true),
  DISABLE_MULTI_TENANCY: bool.default(false),
  DEFAULT_TENANT_SLUG: optionalString,
  ENABLE_CUSTOM_DOMAINS: bool.default(true),
  // Trusted internal callers may name the tenant in X-Tenant-Slug when they
  // present this secret in X-Internal-Secret.
  INTERNAL_API_SECRET: optionalString,
  // Custom domains may only end with one of these (comma-separated; an entry allows itself and every name under it). Unset: any domain.
  ALLOWED_CUSTOM_DOMAIN_SUFFIXES: domainList,
  // The documented name for ALLOWED_CUSTOM_DOMAIN_SUFFIXES (read when that is not set).
  ALLOWED_CUSTOM_DOMAINS: domainList,
  // Name of the TXT record that proves ownership: <prefix>.<domain>.
  DOMAIN_VERIFICATION_PREFIX: z
    .string()
    .regex(/^_?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'one DNS label, optionally starting with _')
    .default('_saas-verify'),
  // When set, a custom domain must also CNAME to this host (or share its addresses, for flattened apex records).
  CUSTOM_DOMAIN_TARGET: z
    .string()
    .optional()
    .transform((v) => (v === undefined || v.trim() === '' ? undefined : bareDomain(v.trim())))
    .refine((v) => v === undefined || (v.length <= 253 && DOMAIN_RE.test(v)), 'must be a host name such as domains.example.net'),
  // How long an unverified domain keeps being re-checked (with backoff) before verification expires.
  DOMAIN_VERIFICATION_WINDOW_DAYS: z.coerce.number().int().min(1).max(90).default(7),
  // A verified domain whose record has been gone this long (seen by the daily re-check) is unverified.
  DOMAIN_RECHECK_GRACE_HOURS: z.coerce
    .number()
    .int()
    .min(0)
    .max(24 * 90)
    .default(72),
  // Resolvers for ownership checks: comma-separated IP or IP:port ([v6]:port), as dns.setServers takes them. Unset: the system's.
  DNS_SERVERS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    )
    .refine((list) => list.every(dnsServerValid), 'each entry must be an IP address, optionally with :port (IPv6 as [addr]:port)'),
  // One DNS query's timeout, and how many times it is sent before the lookup counts as failed.
  DNS_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
  DNS_TRIES: z.coerce.number().int().min(1).max(5).default(2),
  // Hosts custom CSS may load images (and fonts) from over https (comma-separated; an entry allows its subdomains). Unset: no url() at all.
  BRANDING_IMAGE_HOSTS: domainList,
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
  // placement says (schema: the documented default).
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
    .regex(/^[\w:.-]{0,64}$/, 'letters, digits and : _ . -, at most 64')
    .default('saas:'),
  // Abuse throttling of sign-in, sign-up and password recovery, per client
  // address and per account (email), in one window (same store as rate limits).
  AUTH_THROTTLE_ENABLED: bool.default(true),
  AUTH_THROTTLE_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(900),
  AUTH_THROTTLE_PER_ADDRESS: z.coerce.number().int().min(1).default(30),
  // Failed attempts per account in the window (a success gives its attempt back).
  AUTH_THROTTLE_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  // Anonymous requests per client address and minute (never counted against a tenant).
  ANONYMOUS_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(120),
  // Password hashes (argon2id, ~64 MiB each) computed at once, and waiting at most; beyond: 503 + Retry-After.
  PASSWORD_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  PASSWORD_HASH_QUEUE_MAX: z.coerce.number().int().min(0).max(10_000).default(32),
  // argon2id memory per hash in KiB; verifying uses each hash's own parameters, so changing it never locks anyone out.
  PASSWORD_HASH_MEMORY_KIB: z.coerce.number().int().min(1_024).max(1_048_576).default(65_536),
  // Proxies in front of this server whose X-Forwarded-For is trusted for the client address (0: the socket's address).
  TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
  // Browser origins (comma-separated, e.g. https://app.example.com) allowed to call the API, besides each tenant's own hosts.
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== ''),
    ),
  // Plan limits (with per-tenant overrides) are cached this long per process; edits to a plan or an
  // override empty the cache at once by notification, so this only bounds a missed one.
  LIMITS_CACHE_TTL_MS: z.coerce.number().int().min(0).default(300_000),
  // API calls are counted in memory and written this often (and on shutdown).
  USAGE_FLUSH_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000),

  // The job runner (graphile-worker): runs inside `npm start` unless false; `npm run worker` runs it alone.
  WORKER_ENABLED: bool.default(true),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(4),
  // How often an idle worker looks for due jobs (new jobs also wake it through LISTEN/NOTIFY).
  WORKER_POLL_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  // Tenant export archives made by POST /api/tenants/:id/exports are written here.
  EXPORT_DIR: z.string().min(1).default('.data/exports'),
  // Lifetime of a signed download link, and of an archive before the retention job deletes it.
  EXPORT_LINK_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .default(900),
  EXPORT_RETENTION_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(24),
  // HMAC key of download links (>= 32 characters); unset: derived from JWT_SECRET, else random per process.
  EXPORT_LINK_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, 'must be at least 32 characters'),
  // What erasing a person does to the rows they authored, per tenant table: delete or keep
  // (their member row is always pseudonymised), e.g. "messages=delete,files=delete,channels=keep".
  ERASE_AUTHORED_ROWS: z
    .string()
    .regex(/^([a-z_]{1,63}=(delete|keep))(,[a-z_]{1,63}=(delete|keep)){0,31}$/, 'comma-separated <table>=delete|keep')
    .default('messages=delete,files=delete,channels=keep'),

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
  // What happens to a tenant whose trial ended without a paying subscription: the free plan, or suspended.
  TRIAL_END_ACTION: z.enum(['downgrade', 'suspend']).default('downgrade'),
  // On worker start, Stripe events since the newest stored one are replayed, looking back at most this far.
  STRIPE_REPLAY_ON_START: bool.default(true),
  STRIPE_REPLAY_MAX_HOURS: z.coerce.number().int().min(1).max(720).default(72),
  // Stored events whose processing failed are retried with backoff this many times.
  STRIPE_EVENT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(10),

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
  // Every tracked table costs Hasura memory and metadata time (ARCHITECTURE.md §11).
  HASURA_MAX_TENANT_SOURCES: z.coerce.number().int().min(0).default(200),
  // Past the cap (schema and database tenants with a source of their own):
  // place the new tenant pooled (ARCHITECTURE.md §11), refuse it, or create it
  // without a GraphQL source.
  HASURA_SOURCE_CAP_POLICY: z.enum(['pooled', 'refuse', 'skip']).default('pooled'),
  HASURA_TENANT_SOURCE_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100).default(4),
  HASURA_METADATA_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  HASURA_METADATA_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  // The scheduled reconcile of Hasura's metadata (every 15 minutes): off, dry-run (log the drift) or repair.
  HASURA_RECONCILE: z.enum(['off', 'dry-run', 'repair']).default('dry-run'),
  // Shared secrets Hasura sends with action calls (X-Actions-Secret) and with
  // event and cron deliveries (X-Hasura-Event-Secret); unset = those endpoints answer 503.
  ACTIONS_SECRET: optionalString,
  EVENTS_SECRET: optionalString,
  // Lifetime the auth webhook gives a session (in Hasura CE: how long a
  // websocket connection lives before it is re-authenticated). At most 1 s:
  // a removal, demotion, suspension or logout must end access within 1 s.
  HASURA_AUTH_MAX_AGE_SECONDS: z.coerce.number().int().min(0).max(1).default(1),

  // Tenant webhooks: targets resolving to loopback, private or link-local addresses are refused unless true (tests, on-premises receivers).
  WEBHOOK_ALLOW_PRIVATE_TARGETS: bool.default(false),
  // One delivery attempt gives up after this long (counted as a failure and retried on the schedule).
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  // Deliveries one worker sends at once.
  WEBHOOK_DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(500).default(50),
  // Analytics events are forwarded to PostHog (posthog-node, batched, the tenant as the group) when set.
  POSTHOG_API_KEY: optionalString,
  // PostHog's ingestion host (EU cloud, self-hosted, or a local capture server in tests).
  POSTHOG_HOST: z.string().url().default('https://us.i.posthog.com'),
});

export type Env = z.infer<typeof EnvSchema>;

/** Collects problems instead of stopping at the first, so one boot reports them all. */
interface IssueSink {
  addIssue(issue: { code: 'custom'; path: string[]; message: string }): void;
}

/**
 * Rules across variables. They run even when some variables failed to parse
 * (those read as undefined here), so every problem is reported in one pass.
 */
function crossChecks(env: Env, ctx: IssueSink): void {
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
  for (const [name, url] of Object.entries(env.HASURA_TENANT_DATABASE_URLS ?? {})) {
    const problem = tenantDatabaseUrlProblem(url);
    if (problem) ctx.addIssue({ code: 'custom', path: [`HASURA_${name}`], message: problem });
    if (!(name in (env.TENANT_DATABASE_SERVERS ?? {}))) {
      ctx.addIssue({ code: 'custom', path: [`HASURA_${name}`], message: `names no server: ${name} is not set` });
    }
  }
  if (hasuraEndpoint !== undefined) {
    // Hasura reaches a database tenant's server through its own login there.
    for (const name of Object.keys(env.TENANT_DATABASE_SERVERS ?? {})) {
      if (!(name in (env.HASURA_TENANT_DATABASE_URLS ?? {}))) {
        ctx.addIssue({ code: 'custom', path: [`HASURA_${name}`], message: `required when ${name} and HASURA_GRAPHQL_ENDPOINT are set` });
      }
    }
  }
  for (const key of ['ACTIONS_SECRET', 'EVENTS_SECRET'] as const) {
    const value = env[key];
    if (value !== undefined && value.length < 16) ctx.addIssue({ code: 'custom', path: [key], message: 'must be at least 16 characters' });
  }
  if (env.NEXT_PUBLIC_BASE_DOMAIN !== undefined && bareDomain(env.NEXT_PUBLIC_BASE_DOMAIN) !== env.BASE_DOMAIN) {
    ctx.addIssue({
      code: 'custom',
      path: ['NEXT_PUBLIC_BASE_DOMAIN'],
      message: `differs from BASE_DOMAIN (${env.BASE_DOMAIN}); set one of them`,
    });
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
    if (!/^(?:sk|rk)_/.test(env.STRIPE_SECRET_KEY)) {
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
}

// Collected by loadConfig from every variable with this prefix: documented as a pattern.
const COLLECTED: Record<string, string> = {
  TENANT_DATABASE_SERVERS: 'TENANT_DATABASE_URL_<NAME>',
  HASURA_TENANT_DATABASE_URLS: 'HASURA_TENANT_DATABASE_URL_<NAME>',
};

/** Every variable the server reads (README's configuration table must list each: a test checks). */
export const ENV_VARIABLES: readonly string[] = Object.keys(EnvSchema.shape).map((k) => COLLECTED[k] ?? k);

/** Each variable's default as the process would see it unset (undefined: no default). */
export function envDefaults(): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(EnvSchema.shape).map(([key, schema]) => {
      const parsed = (schema as z.ZodType).safeParse(undefined);
      return [COLLECTED[key] ?? key, parsed.success ? parsed.data : undefined];
    }),
  );
}

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
  const given = (name: string): string | undefined => (source[name]?.trim() ? source[name] : undefined);
  const input: Record<string, unknown> = {
    ...source,
    // The documented spellings stand in when ours are not set.
    BASE_DOMAIN: given('BASE_DOMAIN') ?? given('NEXT_PUBLIC_BASE_DOMAIN'),
    ALLOWED_CUSTOM_DOMAIN_SUFFIXES: given('ALLOWED_CUSTOM_DOMAIN_SUFFIXES') ?? given('ALLOWED_CUSTOM_DOMAINS'),
    TENANT_DATABASE_SERVERS: collect(source, /^TENANT_DATABASE_URL_/),
    HASURA_TENANT_DATABASE_URLS: collect(source, /^HASURA_TENANT_DATABASE_URL_/, 'HASURA_'),
  };
  // Field by field, so a type error in one variable does not hide the others' problems.
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(EnvSchema.shape)) {
    const parsed = (schema as z.ZodType).safeParse(input[key]);
    if (parsed.success) values[key] = parsed.data;
    else problems.push(...parsed.error.issues.map((i) => `${[key, ...i.path].join('.')}: ${i.message}`));
  }
  const env = values as Env;
  crossChecks(env, { addIssue: (i) => problems.push(`${i.path.join('.')}: ${i.message}`) });
  if (problems.length) throw new ConfigError([...new Set(problems)]);
  // ENABLE_MULTI_TENANCY=false is the documented spelling of single-tenant mode.
  if (!env.ENABLE_MULTI_TENANCY) env.DISABLE_MULTI_TENANCY = true;
  return env;
}
