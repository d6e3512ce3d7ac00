// Every API call of a tenant passes here, from the REST middleware and from the
// Hasura auth webhook (as ctx.apiGuard): the plan's rate limit first, then
// the monthly API-call quota; an admitted call is counted.
import type { Request, RequestHandler } from 'express';
import { AppError } from '../core/errors.ts';
import type { ResolvedTenant } from '../domains/resolver.ts';
import type { RateLimitService } from './rate-limits.ts';
import type { UsageService } from '../usage/service.ts';

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
  const pattern =
    typeof route === 'object' && route !== null && 'path' in route && typeof route.path === 'string' ? route.path : undefined;
  return pattern === undefined ? `${req.method} (unmatched)` : `${req.method} ${req.baseUrl}${pattern}`;
}

/** Mounted on /api after tenantContext: applies to requests on a tenant's host that the tenant may still make. */
export function apiGuardMiddleware(guard: ApiGuard): RequestHandler {
  return async (req, res, next) => {
    const tenant = req.tenant;
    // Suspended and closed tenants get their 403/410 from the routes, unmetered.
    if (!tenant || (tenant.status !== 'active' && tenant.status !== 'trial' && tenant.status !== 'migrating')) {
      next();
      return;
    }
    const call = await guard.check(tenant);
    for (const [name, value] of Object.entries(call.headers)) res.setHeader(name, value);
    // The endpoint is known once routing is done; 'close' fires for finished and aborted requests alike.
    res.once('close', () => call.record(endpointOf(req)));
    next();
  };
}
