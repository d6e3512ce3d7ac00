// One error catalogue: code -> HTTP status. Every transport (REST, Hasura
// actions, events) answers through it, and internals never reach a response.
import type { ZodError } from 'zod';

export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  INVALID_SLUG: 400,
  PLAN_NOT_AVAILABLE: 400,
  INVALID_SIGNATURE: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  INVALID_TOKEN: 401,
  SESSION_ENDED: 401,
  REFRESH_TOKEN_REUSED: 401,
  FORBIDDEN: 403,
  TENANT_MISMATCH: 403,
  TENANT_SUSPENDED: 403,
  FEATURE_NOT_IN_PLAN: 403,
  INVITATION_WRONG_TENANT: 403,
  INVITATION_EMAIL_MISMATCH: 403,
  NOT_FOUND: 404,
  TENANT_NOT_FOUND: 404,
  INVITATION_INVALID: 404,
  SLUG_TAKEN: 409,
  DOMAIN_TAKEN: 409,
  IDENTITY_EXISTS: 409,
  CONFLICT: 409,
  LAST_OWNER: 409,
  ALREADY_MEMBER: 409,
  INVITATION_USED: 409,
  // A custom domain whose DNS record was not found or does not match.
  DOMAIN_NOT_VERIFIED: 409,
  TENANT_GONE: 410,
  INVITATION_EXPIRED: 410,
  INVITATION_REVOKED: 410,
  TOKEN_EXPIRED_OR_USED: 410,
  PAYLOAD_TOO_LARGE: 413,
  QUOTA_EXCEEDED: 429,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  PAYMENT_PROVIDER_ERROR: 502,
  // DNS did not answer an ownership check (timeout, SERVFAIL): nothing is known either way.
  DNS_LOOKUP_FAILED: 502,
  SERVICE_UNAVAILABLE: 503,
  TENANT_CAPACITY_REACHED: 503,
  DATABASE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = ERROR_STATUS[code];
  }
}

export function validationError(error: ZodError, what = 'request'): AppError {
  const issues = error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  const first = issues[0];
  const summary = first ? `${first.path || what}: ${first.message}` : `invalid ${what}`;
  return new AppError('VALIDATION_FAILED', `Invalid ${what}: ${summary}`, { issues });
}

// Custom SQLSTATEs raised by the database (documented in sql/README.md) and the
// constraint names that carry a meaning for callers.
const SQLSTATE_MAP: Record<string, { code: ErrorCode; message?: string; headers?: Record<string, string> }> = {
  // A plan feature that guards data (public.require_feature); DETAIL names the feature and the plans with it.
  SA402: { code: 'FEATURE_NOT_IN_PLAN' },
  SA403: { code: 'FORBIDDEN' },
  SA404: { code: 'NOT_FOUND' },
  SA409: { code: 'CONFLICT' },
  SA429: { code: 'QUOTA_EXCEEDED' },
  // Writes to a tenant being moved between placements (tg__move_guard): retry in a moment.
  SA503: { code: 'SERVICE_UNAVAILABLE', headers: { 'Retry-After': '1' } },
};

const CONSTRAINT_MAP: Record<string, { code: ErrorCode; message: string }> = {
  tenants_slug_key: { code: 'SLUG_TAKEN', message: 'That slug is already taken' },
  tenants_schema_name_key: { code: 'SLUG_TAKEN', message: 'That slug is already taken' },
  tenants_db_role_key: { code: 'SLUG_TAKEN', message: 'That slug is already taken' },
  tenants_database_name_key: { code: 'SLUG_TAKEN', message: 'That slug is already taken' },
  tenants_database_url_env_format: { code: 'VALIDATION_FAILED', message: 'databaseUrlEnv must name a TENANT_DATABASE_URL_<NAME> setting' },
  tenants_slug_not_reserved: { code: 'INVALID_SLUG', message: 'That slug is reserved' },
  tenants_slug_format: {
    code: 'INVALID_SLUG',
    message: 'A slug is 2-40 characters: lower-case letters, digits and hyphens, starting with a letter',
  },
  tenants_custom_domain_key: { code: 'DOMAIN_TAKEN', message: 'That domain is already used by another tenant' },
  tenants_custom_domain_format: { code: 'VALIDATION_FAILED', message: 'Invalid custom domain' },
  tenant_settings_caps: {
    code: 'VALIDATION_FAILED',
    message: 'settings: the stored settings may hold at most 32 KB, 5 levels of nesting and 500 keys',
  },
  identities_email_key: { code: 'IDENTITY_EXISTS', message: 'An account with that email already exists' },
  identities_email_format: { code: 'VALIDATION_FAILED', message: 'Invalid email address' },
  // Two invitations of one address raced; the first stands.
  tenant_invitations_pending_email_key: { code: 'CONFLICT', message: 'An invitation for that email was just created; retry' },
};

// Errors meaning the connection (not the statement) failed: the backend was
// terminated, the server is starting or shutting down, the socket broke, or no
// connection could be had in time. The work is lost and safe to retry.
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '25P03', '08000', '08001', '08003', '08004', '08006', '08P01']);
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const CONNECTION_MESSAGES = [
  'Connection terminated',
  'is not queryable',
  'timeout exceeded when trying to connect',
  'Cannot use a pool after calling end',
  'Client was closed',
];

/** Why the database could not serve a request, when that is the cause; undefined for ordinary statement errors. */
export function databaseUnavailableReason(err: unknown): 'connection_lost' | 'pool_timeout' | 'statement_timeout' | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : '';
  if (message.includes('timeout exceeded when trying to connect')) return 'pool_timeout';
  if (e.code === '57014' && message.includes('statement timeout')) return 'statement_timeout';
  if (typeof e.code === 'string' && (CONNECTION_SQLSTATES.has(e.code) || CONNECTION_ERRNOS.has(e.code))) return 'connection_lost';
  if (CONNECTION_MESSAGES.some((m) => message.includes(m))) return 'connection_lost';
  return undefined;
}

/** True when the error means the connection itself is gone or unobtainable (the client must not be reused). */
export function isConnectionError(err: unknown): boolean {
  const reason = databaseUnavailableReason(err);
  return reason === 'connection_lost' || reason === 'pool_timeout';
}

export function databaseUnavailable(reason: string): AppError {
  return new AppError(
    'DATABASE_UNAVAILABLE',
    'The database is unavailable for a moment; retry shortly',
    { reason },
    { 'Retry-After': '1' },
  );
}

interface PgErrorLike {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
  detail?: unknown;
}

/** Our own SA* errors may carry a JSON object in DETAIL (e.g. SA429: limit, plan, max, usage, requested). */
function detailsOf(detail: unknown): Record<string, unknown> | undefined {
  if (typeof detail !== 'string' || !detail.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(detail);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Maps a PostgreSQL error to the catalogue, or returns undefined when it carries no meaning for callers. */
export function fromDatabaseError(err: unknown): AppError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const unavailable = databaseUnavailableReason(err);
  if (unavailable) return databaseUnavailable(unavailable);
  const e = err as PgErrorLike;
  if (typeof e.constraint === 'string') {
    const hit = CONSTRAINT_MAP[e.constraint];
    if (hit) return new AppError(hit.code, hit.message);
  }
  if (typeof e.code === 'string') {
    const hit = SQLSTATE_MAP[e.code];
    if (hit) return new AppError(hit.code, typeof e.message === 'string' ? e.message : 'Request refused', detailsOf(e.detail), hit.headers);
    // duplicate role/schema/database while provisioning means the slug is taken
    if (e.code === '42710' || e.code === '42P06' || e.code === '42P04') return new AppError('SLUG_TAKEN', 'That slug is already taken');
    if (e.code === '55P03' || e.code === '40001' || e.code === '40P01') {
      return new AppError('CONFLICT', 'A concurrent change conflicted with this request; retry it');
    }
  }
  return undefined;
}

/** Normalises anything thrown into an AppError; unknown failures become a bare 500. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  return fromDatabaseError(err) ?? new AppError('INTERNAL', 'Internal server error');
}

export function errorBody(err: AppError): { error: { code: ErrorCode; message: string; details?: Record<string, unknown> } } {
  return { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } };
}
