// Hasura's auth webhook in POST mode (hasura/README.md §4): Hasura forwards
// every client header, Host included, as {headers, request}; we answer 200 with
// the session or 401. Any other status makes Hasura answer 500, so every refusal
// (bad token, foreign tenant, suspended tenant, rate limit) is a 401 whose body
// names the reason for our logs (Hasura does not pass it on); see routes.ts.
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError, type ErrorCode } from '../core/errors.ts';
import { classifyHost } from '../domains/hosts.ts';
import type { ResolvedTenant } from '../domains/resolver.ts';
import { InvalidTokenError, PLATFORM_ADMIN_ROLE, rolesAtOrBelow, type TenantRole, type VerifiedToken } from '../auth/tokens.ts';
import { currentMemberRole } from '../auth/membership.ts';
import { looksLikeApiKey, verifyApiKey } from '../apikeys/verify.ts';
import { ANONYMOUS_ROLE, tenantRoleOf, toHasuraRole } from './roles.ts';

export const AUTH_WEBHOOK_PATH = '/hasura/auth';

export const webhookBodySchema = z.object({
  // Header names arrive in whatever case the client used.
  headers: z.record(z.string(), z.string()).transform((h) => {
    const lower: Record<string, string> = {};
    for (const [name, value] of Object.entries(h)) lower[name.toLowerCase()] = value;
    return lower;
  }),
  request: z.unknown().optional(),
});

/** The session Hasura receives: string values only. */
export type HasuraSessionResponse = Record<string, string>;

const deny = (code: ErrorCode, message: string): AppError => new AppError(code, message);

function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match?.[1]) throw deny('INVALID_TOKEN', 'Authorization header must be "Bearer <token>"');
  return match[1];
}

/**
 * The client address of a GraphQL request: the last X-Forwarded-For entry (the
 * one the proxy in front of Hasura added), else one bucket shared by every
 * anonymous GraphQL caller without a proxy.
 */
function forwardedAddress(headers: Record<string, string>): string {
  const forwarded = headers['x-forwarded-for'];
  if (forwarded !== undefined && forwarded.length <= 2_048) {
    const last = forwarded.split(',').at(-1)?.trim();
    if (last) return last;
  }
  return 'graphql-without-address';
}

/** Seconds left on a verified token, for the session lifetime. */
function secondsLeft(token: VerifiedToken): number | undefined {
  return token.expiresAt === undefined ? undefined : Math.max(0, Math.floor(token.expiresAt - Date.now() / 1000));
}

/**
 * Bounds the session. In Hasura CE this is how long a websocket (subscription)
 * connection lives before it must authenticate again; in Hasura Cloud/EE it is
 * also how long Hasura caches the answer. A removal, a demotion, a suspension,
 * a logout or a revoked API key must end access within 1 s, so this is at most
 * 1 s (HASURA_AUTH_MAX_AGE_SECONDS, 0 or 1) and never past the token's expiry.
 */
function cacheControl(maxAge: number, tokenSecondsLeft?: number): string {
  const seconds = tokenSecondsLeft === undefined ? maxAge : Math.min(maxAge, tokenSecondsLeft);
  return `max-age=${seconds}`;
}

/**
 * Ends a token's session with its session id, if any, and its lifetime. The
 * variables are set one by one, in the order Hasura has always received them,
 * rather than spread from throwaway objects on every request.
 */
function tokenSession(session: HasuraSessionResponse, sessionId: string | undefined, lifetime: string): HasuraSessionResponse {
  if (sessionId) session['X-Hasura-Session-Id'] = sessionId;
  session['Cache-Control'] = lifetime;
  return session;
}

async function tenantFor(ctx: AppContext, host: string | undefined): Promise<ResolvedTenant | null> {
  const target = classifyHost(host, ctx.env);
  if (target.kind === 'platform') return null;
  // A cached tenant is answered without a promise, as the REST middleware does.
  const tenant = ctx.resolver.cached(target) ?? (await ctx.resolver.resolve(target));
  if (!tenant) throw deny('TENANT_NOT_FOUND', 'No tenant at this address');
  switch (tenant.status) {
    case 'trial':
    case 'active':
    case 'migrating':
      // migrating: being moved between placements; reads are served, the database refuses writes for the freeze (SA503).
      return tenant;
    case 'suspended':
      throw deny('TENANT_SUSPENDED', 'This tenant is suspended');
    case 'cancelled':
    case 'archived':
      throw deny('TENANT_GONE', 'This tenant has been closed');
    default: {
      const never: never = tenant.status;
      throw new Error(`unknown tenant status ${String(never)}`);
    }
  }
}

function verify(ctx: AppContext, token: string): VerifiedToken {
  try {
    return ctx.tokens.verify(token);
  } catch (err) {
    if (err instanceof InvalidTokenError) throw deny('INVALID_TOKEN', 'The token is invalid or expired');
    throw err;
  }
}

/**
 * Decides the session for one GraphQL request. Every refusal is an AppError
 * with a 4xx code; the route turns them all into 401.
 */
export async function authenticateHasuraRequest(ctx: AppContext, body: unknown): Promise<HasuraSessionResponse> {
  const parsed = webhookBodySchema.safeParse(body);
  if (!parsed.success) throw deny('VALIDATION_FAILED', 'Not a Hasura auth webhook request');
  const headers = parsed.data.headers;
  const tenant = await tenantFor(ctx, headers['host']);
  const requestedRole = headers['x-hasura-role'];
  const maxAge = ctx.env.HASURA_AUTH_MAX_AGE_SECONDS;

  const token = bearerToken(headers['authorization']);
  if (token === undefined) {
    // Anonymous: a tenant's public face (branding, plans) and the sign-up and
    // login actions. On the platform host there is no tenant id, so every
    // tenant-scoped permission (they all use X-Hasura-Tenant-Id) fails closed.
    if (requestedRole !== undefined && requestedRole !== ANONYMOUS_ROLE) throw deny('FORBIDDEN', 'Sign in to use that role');
    // Never counted against the tenant: strangers must not use up its allowance.
    await ctx.anonymousLimiter.admit(forwardedAddress(headers));
    const session: HasuraSessionResponse = { 'X-Hasura-Role': ANONYMOUS_ROLE };
    if (tenant) session['X-Hasura-Tenant-Id'] = tenant.id;
    session['Cache-Control'] = cacheControl(maxAge);
    return session;
  }

  if (looksLikeApiKey(token)) return apiKeySession(ctx, token, tenant, requestedRole);

  const auth = verify(ctx, token);
  const lifetime = cacheControl(maxAge, secondsLeft(auth));

  if (auth.role === PLATFORM_ADMIN_ROLE) {
    if (requestedRole !== undefined && requestedRole !== PLATFORM_ADMIN_ROLE) throw deny('FORBIDDEN', 'Role not allowed by the token');
    const standing = await ctx.access.standing(auth.userId, null, auth.sessionId);
    if (standing && !standing.sessionLive) throw deny('SESSION_ENDED', 'This session has ended');
    if (!standing?.isPlatformAdmin) throw deny('FORBIDDEN', 'No longer a platform administrator');
    const session: HasuraSessionResponse = { 'X-Hasura-Role': PLATFORM_ADMIN_ROLE, 'X-Hasura-User-Id': auth.userId };
    if (tenant) session['X-Hasura-Tenant-Id'] = tenant.id;
    return tokenSession(session, auth.sessionId, lifetime);
  }

  if (!tenant) throw deny('TENANT_NOT_FOUND', 'A tenant token is only valid on its tenant address');
  if (auth.tenantId !== tenant.id) throw deny('TENANT_MISMATCH', 'This token belongs to another tenant');
  const effective = await currentMemberRole(ctx.access, {
    userId: auth.userId,
    tenantId: tenant.id,
    role: auth.role,
    sessionId: auth.sessionId,
  });

  let role = effective;
  if (requestedRole !== undefined) {
    // X-Hasura-Role may only lower the role, to one the token lists as well.
    const wanted = tenantRoleOf(requestedRole);
    if (!wanted || !rolesAtOrBelow(effective).includes(wanted) || !auth.allowedRoles.includes(wanted)) {
      throw deny('FORBIDDEN', 'Role not allowed by the token');
    }
    role = wanted;
  }

  await ctx.apiGuard.admit({ tenant, userId: auth.userId, endpoint: 'graphql' });
  return tokenSession(
    { 'X-Hasura-Role': toHasuraRole(role), 'X-Hasura-User-Id': auth.userId, 'X-Hasura-Tenant-Id': tenant.id },
    auth.sessionId,
    lifetime,
  );
}

/**
 * A tenant API key: a session of that tenant with the key's role (member or
 * tenant_admin). X-Hasura-User-Id is the key's id (it matches no person, so
 * "own row" permissions grant a key nothing); X-Hasura-Api-Key-Id tells actions
 * the caller is a key. Checked live on every request, counted like any call.
 */
async function apiKeySession(
  ctx: AppContext,
  credential: string,
  tenant: ResolvedTenant | null,
  requestedRole: string | undefined,
): Promise<HasuraSessionResponse> {
  const key = await verifyApiKey(ctx.access, credential, ctx.log);
  if (!key) throw deny('INVALID_TOKEN', 'The API key is invalid, revoked or expired');
  if (!tenant) throw deny('TENANT_NOT_FOUND', 'An API key is only valid on its tenant address');
  if (key.tenantId !== tenant.id) throw deny('TENANT_MISMATCH', 'This API key belongs to another tenant');
  let role = key.role as TenantRole;
  if (requestedRole !== undefined) {
    const wanted = tenantRoleOf(requestedRole);
    if (!wanted || !rolesAtOrBelow(role).includes(wanted)) throw deny('FORBIDDEN', 'Role not allowed by the API key');
    role = wanted;
  }
  await ctx.apiGuard.admit({ tenant, userId: undefined, endpoint: 'graphql' });
  return {
    'X-Hasura-Role': toHasuraRole(role),
    'X-Hasura-User-Id': key.id,
    'X-Hasura-Api-Key-Id': key.id,
    'X-Hasura-Tenant-Id': tenant.id,
    'Cache-Control': cacheControl(ctx.env.HASURA_AUTH_MAX_AGE_SECONDS),
  };
}
