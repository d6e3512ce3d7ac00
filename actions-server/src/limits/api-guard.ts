// Every API call of a tenant passes here, from the REST middleware and from the
// Hasura auth webhook (as ctx.apiGuard): the plan's rate limit first, then
// the monthly API-call quota; an admitted call is counted.
import type { Request, RequestHandler } from 'express';
import { AppError } from '../core/errors.ts';
import type { ResolvedTenant } from '../domains/resolver.ts';
import type { RateLimitService } from './rate-limits.ts';
import type { UsageService } from '../usage/service.ts';
import type { TenantResolver } from '../domains/resolver.ts';
import { InvalidTokenError, PLATFORM_ADMIN_ROLE, verifyRequestToken, type TokenService } from '../auth/tokens.ts';
import type { AccessCache } from '../auth/access.ts';
import { looksLikeApiKey, verifyRequestApiKey } from '../apikeys/verify.ts';
import { clientAddress, type AddressLimiter } from './throttle.ts';

export interface AdmittedCall {
  /** RateLimit-* headers for the response. */
  headers: Record<string, string>;
  /** Records the call under its endpoint (once). */
  record(endpoint: string): void;
}

export class ApiGuard {
  constructor(
    private readonly rateLimits: RateLimitService,
    private readonly usage: UsageService,
  ) {}

  /** Throws AppError RATE_LIMITED / QUOTA_EXCEEDED (429) or SERVICE_UNAVAILABLE (503, rate-limit store down, fail-closed). */
  async check(tenant: ResolvedTenant): Promise<AdmittedCall> {
    const headers = await this.rateLimits.check(tenant);
    try {
      return { headers, record: await this.usage.admitApiCall(tenant) };
    } catch (err) {
      // A quota refusal still tells the client where it stands on rate limits.
      if (err instanceof AppError) throw new AppError(err.code, err.message, err.details, { ...headers, ...err.headers });
      throw err;
    }
  }

  /** The Hasura auth webhook's gate: refusals are AppErrors the webhook turns into 401s. */
  async admit(call: { tenant: ResolvedTenant; userId: string | undefined; endpoint: string }): Promise<void> {
    (await this.check(call.tenant)).record(call.endpoint);
  }
}

/** The route pattern, not the path, so ids do not multiply the endpoints. */
function endpointOf(req: Request): string {
  const route: unknown = req.route;
  const pattern = typeof route === 'object' && route !== null && 'path' in route && typeof route.path === 'string' ? route.path : undefined;
  return pattern === undefined ? `${req.method} (unmatched)` : `${req.method} ${req.baseUrl}${pattern}`;
}

/** Statuses whose calls are metered; suspended and closed tenants get their 403/410 from the routes, unmetered. */
const METERED = new Set(['active', 'trial', 'migrating']);

export interface GuardDeps {
  apiGuard: ApiGuard;
  anonymousLimiter: AddressLimiter;
  tokens: TokenService;
  resolver: Pick<TenantResolver, 'byId'>;
  access: AccessCache;
}

/**
 * The tenant an authenticated caller acts for: a valid token of that tenant
 * (on its host, or on the platform host naming its id, where routes check it
 * is the tenant of the path). 'platform' for a platform administrator's token,
 * undefined for anyone else (anonymous, a bad token, another tenant's token:
 * the routes refuse those).
 */
async function callerTenant(deps: GuardDeps, req: Request): Promise<ResolvedTenant | 'platform' | undefined> {
  const header = req.get('authorization');
  if (header === undefined || header.length > 8_192) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) return undefined;
  // A tenant's API key counts against that tenant, like its people's tokens.
  if (looksLikeApiKey(match[1])) {
    const key = await verifyRequestApiKey(req, deps.access, match[1]);
    if (!key) return undefined;
    if (req.tenant) return req.tenant.id === key.tenantId ? req.tenant : undefined;
    return (await deps.resolver.byId(key.tenantId)) ?? undefined;
  }
  let auth;
  try {
    auth = verifyRequestToken(req, deps.tokens, match[1]);
  } catch (err) {
    if (err instanceof InvalidTokenError) return undefined;
    throw err;
  }
  if (auth.role === PLATFORM_ADMIN_ROLE) return 'platform';
  if (!auth.tenantId) return undefined;
  if (req.tenant) return req.tenant.id === auth.tenantId ? req.tenant : undefined;
  return (await deps.resolver.byId(auth.tenantId)) ?? undefined;
}

/**
 * Mounted on /api after tenantContext and CORS. A tenant's rate limit and
 * monthly quota count its authenticated callers only, whatever the Host;
 * anonymous requests are limited per client address instead, so strangers
 * cannot use up a tenant's allowance. OPTIONS (preflights) and the paths in
 * `exempt` (signed webhooks) are never counted.
 */
export function apiGuardMiddleware(deps: GuardDeps, exempt: ReadonlySet<string> = new Set()): RequestHandler {
  return async (req, res, next) => {
    if (req.method === 'OPTIONS' || exempt.has(req.originalUrl.split('?')[0] ?? '')) {
      next();
      return;
    }
    const tenant = await callerTenant(deps, req);
    if (tenant === undefined) {
      await deps.anonymousLimiter.admit(clientAddress(req));
      next();
      return;
    }
    if (tenant === 'platform' || !METERED.has(tenant.status)) {
      next();
      return;
    }
    const call = await deps.apiGuard.check(tenant);
    for (const [name, value] of Object.entries(call.headers)) res.setHeader(name, value);
    // The endpoint is known once routing is done; 'close' fires for finished and aborted requests alike.
    res.once('close', () => call.record(endpointOf(req)));
    next();
  };
}
