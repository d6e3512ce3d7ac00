// Request pipeline pieces: request id, tenant from the host, token, membership.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError } from '../core/errors.ts';
import type { AppContext } from '../core/context.ts';
import { classifyHost, type HostTarget } from '../domains/hosts.ts';
import type { ResolvedTenant } from '../domains/resolver.ts';
import { InvalidTokenError, PLATFORM_ADMIN_ROLE, rolesAtOrBelow, verifyRequestToken, type TenantRole } from '../auth/tokens.ts';
import { currentMemberRole } from '../auth/membership.ts';
import { looksLikeApiKey, verifyRequestApiKey } from '../apikeys/verify.ts';
import { SLUG_RE } from '../tenants/schemas.ts';

export function requestId(): RequestHandler {
  return (req, res, next) => {
    req.requestId = randomUUID();
    res.setHeader('X-Request-Id', req.requestId);
    next();
  };
}

function secretMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** ARCHITECTURE.md §3 order: custom domain / subdomain from Host, then a trusted internal header, then (development) ?tenant=. */
export function targetFor(ctx: AppContext, req: Request): HostTarget {
  const fromHost = classifyHost(req.headers.host, ctx.env);
  if (fromHost.kind !== 'platform') return fromHost;
  const header = req.get('x-tenant-slug');
  if (header && secretMatches(req.get('x-internal-secret'), ctx.env.INTERNAL_API_SECRET)) {
    return { kind: 'slug', slug: SLUG_RE.test(header) ? header : '' };
  }
  const query = req.query['tenant'];
  if (ctx.env.NODE_ENV === 'development' && typeof query === 'string') {
    return { kind: 'slug', slug: SLUG_RE.test(query) ? query : '' };
  }
  return fromHost;
}

/** Sets req.tenant; a host that names a tenant which does not exist is a 404. A cached tenant is answered synchronously. */
export function tenantContext(ctx: AppContext): RequestHandler {
  const settle = (req: Request, target: HostTarget, tenant: ResolvedTenant | null, next: NextFunction): void => {
    if (target.kind !== 'platform' && !tenant) throw new AppError('TENANT_NOT_FOUND', 'No tenant at this address');
    req.tenant = tenant;
    next();
  };
  return (req, _res, next) => {
    const target = targetFor(ctx, req);
    const hit = ctx.resolver.cached(target);
    if (hit !== undefined) return settle(req, target, hit, next);
    return ctx.resolver.resolve(target).then((tenant) => settle(req, target, tenant, next));
  };
}

/** Methods that change nothing; anything else on a tenant's host counts as a write. */
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Suspended: 403; closed: 410. While the tenant is `migrating` (the final step
 * of a move between placements) reads are served and writes answered 503 with
 * Retry-After; the database enforces the same freeze for every path (SA503).
 */
export function assertServable(tenant: ResolvedTenant, opts: { write?: boolean } = {}): void {
  if (tenant.status === 'suspended') {
    throw new AppError('TENANT_SUSPENDED', 'This tenant is suspended; contact its owner or support');
  }
  if (tenant.status === 'cancelled' || tenant.status === 'archived') {
    throw new AppError('TENANT_GONE', 'This tenant has been closed');
  }
  if (tenant.status === 'migrating' && opts.write) {
    throw new AppError(
      'SERVICE_UNAVAILABLE',
      'This tenant is being moved to another placement: writes are paused for a moment, retry shortly',
      { reason: 'tenant_moving' },
      { 'Retry-After': '1' },
    );
  }
}

const isWrite = (req: Request): boolean => !READ_METHODS.has(req.method);

/** For routes that only make sense on a tenant host (billing: also while suspended, see assertMember). */
export function requireTenantHost(opts: { allowSuspended?: boolean } = {}): RequestHandler {
  return (req, _res, next) => {
    if (!req.tenant) throw new AppError('TENANT_NOT_FOUND', 'This route needs a tenant address (subdomain or custom domain)');
    if (!(opts.allowSuspended && req.tenant.status === 'suspended')) assertServable(req.tenant, { write: isWrite(req) });
    next();
  };
}

function bearer(req: Request): string | undefined {
  const header = req.get('authorization');
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new AppError('INVALID_TOKEN', 'Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * Verifies the Bearer credential (a session's access token or a tenant API
 * key) and that it is still live: the session not logged out or revoked, the
 * key not revoked or expired. Both are read through the access cache, which a
 * logout or revocation empties at once (auth/access.ts). On a tenant host the credential must belong
 * to that tenant, and the tenant must be servable — except for routes that must
 * stay reachable while suspended (billing, so an owner can pay and reactivate).
 */
export async function authenticateRequest(ctx: AppContext, req: Request, opts: { allowSuspended?: boolean } = {}): Promise<void> {
  if (req.tenant && !(opts.allowSuspended && req.tenant.status === 'suspended')) assertServable(req.tenant, { write: isWrite(req) });
  const token = bearer(req);
  if (!token) throw new AppError('UNAUTHENTICATED', 'Sign in first: send Authorization: Bearer <token>');
  if (looksLikeApiKey(token)) {
    const key = await verifyRequestApiKey(req, ctx.access, token, ctx.log);
    if (!key) throw new AppError('INVALID_TOKEN', 'The API key is invalid, revoked or expired');
    req.auth = { userId: key.id, tenantId: key.tenantId, role: key.role, allowedRoles: rolesAtOrBelow(key.role), apiKeyId: key.id };
  } else {
    try {
      req.auth = verifyRequestToken(req, ctx.tokens, token);
    } catch (err) {
      if (err instanceof InvalidTokenError) throw new AppError('INVALID_TOKEN', 'The token is invalid or expired');
      throw err;
    }
  }
  const auth = req.auth;
  if (req.tenant && auth.role !== PLATFORM_ADMIN_ROLE && auth.tenantId !== req.tenant.id) {
    throw new AppError('TENANT_MISMATCH', 'This token belongs to another tenant');
  }
  if (!auth.apiKeyId) {
    const standing = await ctx.access.standing(auth.userId, auth.tenantId, auth.sessionId);
    if (!standing?.sessionLive) throw new AppError('SESSION_ENDED', 'This session has ended; sign in again');
  }
}

export function authenticate(ctx: AppContext, opts: { allowSuspended?: boolean } = {}): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    await authenticateRequest(ctx, req, opts);
    next();
  };
}

/** Routes that act as a person (manage members, keys, invitations): an API key is refused. */
export function assertPerson(req: Request): string {
  if (!req.auth || req.auth.apiKeyId) throw new AppError('FORBIDDEN', 'This needs a signed-in person, not an API key');
  return req.auth.userId;
}

/** A platform administrator's token, and the database still says so (a token outlives a demotion). */
export function requirePlatformAdmin(ctx: Pick<AppContext, 'access'>): RequestHandler {
  return async (req, _res, next) => {
    if (req.auth?.role !== PLATFORM_ADMIN_ROLE) throw new AppError('FORBIDDEN', 'Platform administrators only');
    if (!(await isPlatformAdmin(ctx, req))) throw new AppError('FORBIDDEN', 'No longer a platform administrator');
    next();
  };
}

/** Whether the caller is a platform administrator and the database (through the access cache) still says so. */
export async function isPlatformAdmin(ctx: Pick<AppContext, 'access'>, req: Request): Promise<boolean> {
  if (req.auth?.role !== PLATFORM_ADMIN_ROLE) return false;
  return (await ctx.access.standing(req.auth.userId, null))?.isPlatformAdmin === true;
}

/**
 * A platform administrator (the tenant must exist), else a member of the tenant
 * with at least `min` (assertMember): the member's role, or null for a platform administrator.
 */
export async function assertMemberOrPlatformAdmin(
  ctx: AppContext,
  req: Request,
  tenantId: string,
  min: TenantRole,
): Promise<TenantRole | null> {
  if (!(await isPlatformAdmin(ctx, req))) return assertMember(ctx, req, tenantId, min);
  if (!(await ctx.resolver.byId(tenantId))) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  return null;
}

/**
 * The caller must be a member of `tenantId` with at least `min`. The role is read
 * from the database (a token outlives a demotion) and capped by the token's role.
 */
export async function assertMember(
  ctx: AppContext,
  req: Request,
  tenantId: string,
  min: TenantRole,
  opts: { billing?: boolean } = {},
): Promise<TenantRole> {
  const auth = req.auth;
  if (!auth || auth.role === PLATFORM_ADMIN_ROLE || auth.tenantId !== tenantId) {
    throw new AppError('FORBIDDEN', 'Only members of this tenant may do this');
  }
  // Whatever the Host (the platform host names no tenant): the tenant of the
  // path must exist and be servable. Billing stays open to the owners of a
  // suspended tenant, so they can pay their way back; nothing else does.
  const tenant = req.tenant?.id === tenantId ? req.tenant : await ctx.resolver.byId(tenantId);
  if (!tenant) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  if (opts.billing && tenant.status === 'suspended') min = 'owner';
  else assertServable(tenant, { write: isWrite(req) });
  // An API key's role was read live while authenticating this request.
  const keyRole = auth.apiKeyId ? auth.role : undefined;
  const role = await currentMemberRole(ctx.access, { ...auth, tenantId, role: auth.role, keyRole }, min);
  req.memberRole = role;
  return role;
}
