// The actions server: REST API under /api, Hasura endpoints under /hasura.
import express, { type RequestHandler, type Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { errorHandler, notFoundHandler, sequence } from './handlers.ts';
import { requestId, tenantContext } from './middleware.ts';
import { requestLog } from './request-log.ts';
import { admission, describeHealth, healthRoutes, probeRoutes } from './health.ts';
import { ApiDocs, describeOpenApi, openApiRoutes, type OpenApiDocument } from './openapi.ts';
import { Lifecycle } from '../lifecycle/state.ts';
import { describeTenants, tenantRoutes } from '../tenants/routes.ts';
import { authRoutes, describeAuth } from '../auth/routes.ts';
import { auditRoutes, describeAudit } from '../audit/routes.ts';
import { describeInvitations, invitationRoutes } from '../invitations/routes.ts';
import { billingRoutes, describeBilling, stripeWebhookHandlers, WEBHOOK_PATH } from '../billing/routes.ts';
import { authWebhookHandler, describeHasura, hasuraRoutes } from '../hasura/routes.ts';
import { AUTH_WEBHOOK_PATH } from '../hasura/auth-webhook.ts';
import { describeUsage, usageRoutes } from '../usage/routes.ts';
import { describeMoves, moveRoutes } from '../tenants/move/routes.ts';
import { describePortability, portabilityRoutes } from '../portability/routes.ts';
import { describeEntitlements, entitlementRoutes } from '../entitlements/routes.ts';
import { apiGuardMiddleware } from '../limits/api-guard.ts';
import { describeDomains, domainRoutes, internalDomainRoutes } from '../domains/routes.ts';
import { apiHeaders, baseAndApiHeaders, baseHeaders, corsMiddleware } from './security.ts';
import { describeMetering, meteringRoutes } from '../metering/routes.ts';
import { describeWebhooks, webhookRoutes } from '../webhooks/routes.ts';
import { analyticsRoutes, describeAnalytics } from '../analytics/routes.ts';
import { describeMembers, memberRoutes } from '../members/routes.ts';
import { apiKeyRoutes, describeApiKeys } from '../apikeys/routes.ts';
import { describeJobs, jobRoutes } from '../jobs/routes.ts';
import { adminRoutes } from '../admin/routes.ts';
import { brandingRoutes, describeBranding } from '../branding/routes.ts';

/** Paths that must see the raw request body (signature checks), so JSON parsing skips them. */
export const RAW_BODY_PATHS = new Set<string>([WEBHOOK_PATH]);

/** Every capability's routers; each route names its full path, so no router shadows another's. */
const ROUTERS: ((ctx: AppContext) => Router)[] = [
  // First: the auth webhook answers every GraphQL request, and its paths (/hasura/*) are nobody else's.
  hasuraRoutes,
  healthRoutes,
  () => openApiRoutes(apiDocument),
  authRoutes,
  auditRoutes,
  invitationRoutes,
  usageRoutes,
  moveRoutes,
  portabilityRoutes,
  domainRoutes,
  entitlementRoutes,
  meteringRoutes,
  webhookRoutes,
  analyticsRoutes,
  memberRoutes,
  apiKeyRoutes,
  jobRoutes,
  brandingRoutes,
  tenantRoutes,
  billingRoutes,
  adminRoutes,
];

/**
 * Every area's description of its routes (OpenAPI, served at /api/openapi.json).
 * An area that adds a route describes it in its describe function, beside its
 * router; a router added here needs its describe function added below.
 */
const DESCRIPTIONS: ((api: ApiDocs) => void)[] = [
  describeOpenApi,
  describeHealth,
  describeAuth,
  describeTenants,
  describeBranding,
  describeDomains,
  describeEntitlements,
  describeMembers,
  describeInvitations,
  describeApiKeys,
  describeMoves,
  describePortability,
  describeUsage,
  describeAudit,
  describeBilling,
  describeMetering,
  describeAnalytics,
  describeWebhooks,
  describeHasura,
  describeJobs,
];

let document: OpenApiDocument | undefined;

/** The OpenAPI document of this server, generated once. */
export function apiDocument(): OpenApiDocument {
  if (!document) {
    const api = new ApiDocs();
    for (const describe of DESCRIPTIONS) describe(api);
    document = api.document();
  }
  return document;
}

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Answers are never cached (Cache-Control: no-store), so no ETag is hashed for each body.
  app.disable('etag');
  // The client address for per-address limits: the socket's, or X-Forwarded-For through that many trusted proxies.
  app.set('trust proxy', ctx.env.TRUST_PROXY_HOPS);
  const lifecycle = (ctx.lifecycle ??= new Lifecycle('serving'));
  const id = requestId();
  const log = requestLog(ctx.log);
  const admit = admission(lifecycle);
  const json = express.json({ limit: '1mb' });
  const errors = errorHandler(ctx.log);
  // Two hot paths take, at their exact path, only the steps of the chain below
  // that apply to them, in the same order, run in sequence instead of being
  // routed past every other router: the auth webhook answers every GraphQL
  // request (it resolves and limits its caller itself), and Stripe's webhook is
  // signed, server to server and arrives in bursts (renewals); neither has a
  // tenant host, CORS or a rate limit. Other spellings of the paths (case,
  // trailing slash) take the chain.
  const first = [id, log, admit, baseAndApiHeaders(ctx)];
  const hot = new Map<string, RequestHandler>([
    [AUTH_WEBHOOK_PATH, sequence([...first, json, authWebhookHandler(ctx)], errors)],
    [WEBHOOK_PATH, sequence([...first, ...stripeWebhookHandlers(ctx)], errors)],
  ]);
  app.use((req, res, next) => {
    const handler = req.method === 'POST' ? hot.get(req.path) : undefined;
    if (!handler) return next();
    res.locals['route'] = req.path;
    handler(req, res, next);
  });
  app.use(id);
  // Probes first: they answer while booting and draining, and are not worth a log line each.
  app.use(probeRoutes(ctx, lifecycle));
  app.use(log);
  app.use(admit);
  app.use(baseHeaders(ctx));
  app.use(['/api', '/hasura'], apiHeaders());
  app.use((req, res, next) => (RAW_BODY_PATHS.has(req.path) ? next() : json(req, res, next)));
  // The proxy's certificate question answers on any Host, before tenant resolution and rate limits.
  app.use(internalDomainRoutes(ctx));
  app.use('/api', tenantContext(ctx));
  // Preflights end here, uncounted.
  app.use('/api', corsMiddleware(ctx));
  // Per-plan rate limit and monthly API-call quota for a tenant's authenticated callers; anonymous callers per address.
  app.use('/api', apiGuardMiddleware(ctx, RAW_BODY_PATHS));
  for (const routes of ROUTERS) app.use(routes(ctx));
  app.use(notFoundHandler);
  app.use(errors);
  return app;
}
