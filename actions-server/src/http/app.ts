// The actions server: REST API under /api, Hasura endpoints under /hasura.
import express, { type Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { errorHandler, notFoundHandler } from './handlers.ts';
import { requestId, tenantContext } from './middleware.ts';
import { requestLog } from './request-log.ts';
import { admission, healthRoutes, probeRoutes } from './health.ts';
import { Lifecycle } from '../lifecycle/state.ts';
import { tenantRoutes } from '../tenants/routes.ts';
import { authRoutes } from '../auth/routes.ts';
import { auditRoutes } from '../audit/routes.ts';
import { invitationRoutes } from '../invitations/routes.ts';
import { billingRoutes, WEBHOOK_PATH } from '../billing/routes.ts';
import { hasuraRoutes } from '../hasura/routes.ts';
import { usageRoutes } from '../usage/routes.ts';
import { moveRoutes } from '../tenants/move/routes.ts';
import { portabilityRoutes } from '../portability/routes.ts';
import { entitlementRoutes } from '../entitlements/routes.ts';
import { apiGuardMiddleware } from '../limits/api-guard.ts';
import { domainRoutes, internalDomainRoutes } from '../domains/routes.ts';
import { apiHeaders, baseHeaders, corsMiddleware } from './security.ts';
import { meteringRoutes } from '../metering/routes.ts';
import { webhookRoutes } from '../webhooks/routes.ts';
import { analyticsRoutes } from '../analytics/routes.ts';
import { memberRoutes } from '../members/routes.ts';
import { apiKeyRoutes } from '../apikeys/routes.ts';
import { jobRoutes } from '../jobs/routes.ts';
import { adminRoutes } from '../admin/routes.ts';
import { brandingRoutes } from '../branding/routes.ts';

/** Paths that must see the raw request body (signature checks), so JSON parsing skips them. */
export const RAW_BODY_PATHS = new Set<string>([WEBHOOK_PATH]);

/** Every capability's routers, mounted in order. */
const ROUTERS: ((ctx: AppContext) => Router)[] = [
  healthRoutes,
  authRoutes,
  // before tenantRoutes: its POST /api/tenants/:id/:action (platform admins) would take /invitations
  auditRoutes,
  invitationRoutes,
  usageRoutes,
  // before tenantRoutes too: POST /api/tenants/:id/move
  moveRoutes,
  // before tenantRoutes too: POST /api/tenants/:id/exports, /transfer-ownership
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
  hasuraRoutes,
  adminRoutes,
];

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // The client address for per-address limits: the socket's, or X-Forwarded-For through that many trusted proxies.
  app.set('trust proxy', ctx.env.TRUST_PROXY_HOPS);
  app.use(requestId());
  const lifecycle = (ctx.lifecycle ??= new Lifecycle('serving'));
  // Probes first: they answer while booting and draining, and are not worth a log line each.
  app.use(probeRoutes(ctx, lifecycle));
  app.use(requestLog(ctx.log));
  app.use(admission(lifecycle));
  app.use(baseHeaders(ctx));
  app.use(['/api', '/hasura'], apiHeaders());
  const json = express.json({ limit: '1mb' });
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
  app.use(errorHandler(ctx.log));
  return app;
}
