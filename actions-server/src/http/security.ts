// Browser-facing protections of the API: response headers (helmet) and CORS.
// The default-deny Content-Security-Policy applies to /api and /hasura; the
// admin portal's pages carry a policy of their own (adminHeaders).
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import cors from 'cors';
import helmet from 'helmet';
import type { Request, RequestHandler } from 'express';
import type { AppContext } from '../core/context.ts';
import { tenantHostnames } from '../domains/hosts.ts';

type HeaderStep = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** nosniff and friends everywhere; HSTS in production only (a development server is plain http). */
function baseHeaderSteps(ctx: Pick<AppContext, 'env'>): HeaderStep {
  return helmet({
    contentSecurityPolicy: false,
    strictTransportSecurity: ctx.env.NODE_ENV === 'production' ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    // Nothing to remove: createApp never sets it.
    xPoweredBy: false,
  });
}

/**
 * API answers are JSON, never documents: a policy that allows nothing, and no
 * caching anywhere, since tokens, invitation links and secrets travel in them.
 */
function apiHeaderSteps(): HeaderStep {
  const csp = helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  });
  return (req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    csp(req, res, next);
  };
}

type HeaderValue = number | string | readonly string[];

/** A response that is never sent: it notes the headers set on it, in order. */
class HeaderRecorder extends ServerResponse {
  readonly recorded: [string, HeaderValue][] = [];

  override setHeader(name: string, value: HeaderValue): this {
    this.recorded.push([name, value]);
    return this;
  }
}

/**
 * Sets what the steps set. Their headers depend on configuration only, never
 * on the request, so they are recorded once instead of running helmet's dozen
 * middlewares on every request.
 */
function fixedHeaders(...steps: HeaderStep[]): RequestHandler {
  const recorder = new HeaderRecorder(new IncomingMessage(new Socket()));
  for (const step of steps) {
    step(recorder.req, recorder, (err) => {
      if (err) throw new Error('a security header step failed', { cause: err });
    });
  }
  const headers = recorder.recorded;
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}

export const baseHeaders = (ctx: Pick<AppContext, 'env'>): RequestHandler => fixedHeaders(baseHeaderSteps(ctx));

export const apiHeaders = (): RequestHandler => fixedHeaders(apiHeaderSteps());

/** baseHeaders then apiHeaders, in one step: for a route mounted ahead of both. */
export const baseAndApiHeaders = (ctx: Pick<AppContext, 'env'>): RequestHandler => fixedHeaders(baseHeaderSteps(ctx), apiHeaderSteps());

/**
 * The admin portal: scripts, styles and calls from this origin only. No inline
 * script or style, no eval; tenant data is only ever text in the page, and the
 * branding preview applies the server-sanitised CSS as a constructable
 * stylesheet (CSSOM, which style-src does not govern).
 */
export function adminHeaders(): RequestHandler {
  return helmet.contentSecurityPolicy({
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
  });
}

function hostnameOf(origin: string): string | undefined {
  if (origin.length > 2_048) return undefined;
  try {
    const url = new URL(origin);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.hostname.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CORS with an allowlist: the origins in CORS_ORIGINS, and on a tenant's host
 * that tenant's own hosts (its subdomain, its verified custom domain).
 * Preflights are answered here, before anything counts the request.
 */
export function corsMiddleware(ctx: Pick<AppContext, 'env' | 'resolver'>): RequestHandler {
  const configured = new Set(ctx.env.CORS_ORIGINS);
  const allowed = async (req: Request, origin: string): Promise<boolean> => {
    if (configured.has(origin)) return true;
    const tenant = req.tenant;
    const hostname = hostnameOf(origin);
    if (!tenant || !hostname) return false;
    if (tenantHostnames(tenant.slug, ctx.env).includes(hostname)) return true;
    // A custom domain counts once verified, i.e. when it resolves to this tenant.
    if (tenant.customDomain !== hostname) return false;
    const byDomain = await ctx.resolver.resolve({ kind: 'domain', domain: hostname });
    return byDomain?.id === tenant.id;
  };
  return cors((req, callback) => {
    const origin = req.headers.origin;
    if (origin === undefined) {
      callback(null, { origin: false });
      return;
    }
    allowed(req as Request, origin).then(
      (ok) =>
        callback(null, {
          origin: ok ? origin : false,
          methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
          allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'],
          exposedHeaders: ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy', 'Retry-After', 'X-Request-Id'],
          maxAge: 600,
          optionsSuccessStatus: 204,
        }),
      (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
    );
  });
}
