// The actions server: REST API under /api, Hasura endpoints under /hasura.
import express, { type Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { errorHandler, notFoundHandler } from './handlers.ts';
import { requestId, tenantContext } from './middleware.ts';
import { healthRoutes } from './health.ts';
import { tenantRoutes } from '../tenants/routes.ts';
import { authRoutes } from '../auth/routes.ts';
import { auditRoutes } from '../audit/routes.ts';
import { invitationRoutes } from '../invitations/routes.ts';
import { billingRoutes, WEBHOOK_PATH } from '../billing/routes.ts';
import { hasuraRoutes } from '../hasura/routes.ts';
import { usageRoutes } from '../usage/routes.ts';
import { moveRoutes } from '../tenants/move/routes.ts';
import { apiGuardMiddleware } from '../limits/api-guard.ts';
import { memberRoutes } from '../members/routes.ts';
import { apiKeyRoutes } from '../apikeys/routes.ts';

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
  // before tenantRoutes too: POST /api/tenants/:id/transfer-ownership
  memberRoutes,
  apiKeyRoutes,
  tenantRoutes,
  billingRoutes,
  hasuraRoutes,
];

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId());
  const json = express.json({ limit: '1mb' });
  app.use((req, res, next) => (RAW_BODY_PATHS.has(req.path) ? next() : json(req, res, next)));
  app.use('/api', tenantContext(ctx));
  // Per-plan rate limit and monthly API-call quota on tenant hosts; counts the call.
  app.use('/api', apiGuardMiddleware(ctx.apiGuard));
  for (const routes of ROUTERS) app.use(routes(ctx));
  app.use(notFoundHandler);
  app.use(errorHandler(ctx.log));
  return app;
}
