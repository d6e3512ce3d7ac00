// The actions server: REST API under /api, Hasura endpoints under /hasura.
import express, { type Router } from 'express';
import type { AppContext } from './context.ts';
import { errorHandler, notFoundHandler } from './handlers.ts';
import { requestId, tenantContext } from './middleware.ts';
import { healthRoutes } from './health.ts';
import { tenantRoutes } from '../tenants/routes.ts';
import { authRoutes } from '../auth/routes.ts';

/** Paths that must see the raw request body (signature checks), so JSON parsing skips them. */
export const RAW_BODY_PATHS = new Set<string>();

/** Every capability's routers, mounted in order. */
const ROUTERS: ((ctx: AppContext) => Router)[] = [healthRoutes, authRoutes, tenantRoutes];

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestId());
  const json = express.json({ limit: '1mb' });
  app.use((req, res, next) => (RAW_BODY_PATHS.has(req.path) ? next() : json(req, res, next)));
  app.use('/api', tenantContext(ctx));
  for (const routes of ROUTERS) app.use(routes(ctx));
  app.use(notFoundHandler);
  app.use(errorHandler(ctx.log));
  return app;
}
