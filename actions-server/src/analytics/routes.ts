// POST /api/v1/events: one analytics or connector event for the caller's tenant
// (from the verified credentials and the host, never from the body).
import { Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { authenticate, requireTenantHost } from '../http/middleware.ts';
import { parseBody, tenantActor } from '../metering/routes.ts';
import { analyticsEventSchema, connectorEventSchema, eventBodySchema, recordAnalyticsEvent, recordConnectorEvent } from './service.ts';
import { z } from 'zod';
import type { ApiDocs } from '../http/openapi.ts';

export function analyticsRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post('/api/v1/events', requireTenantHost(), authenticate(ctx), async (req, res) => {
    const raw: unknown = req.body;
    const body = parseBody(eventBodySchema, raw && typeof raw === 'object' && !('kind' in raw) ? { ...raw, kind: 'analytics' } : raw);
    const actor = await tenantActor(ctx, req);
    const tenant = { id: actor.tenantId, slug: req.tenant!.slug, plan: req.tenant!.plan };
    const stored =
      body.kind === 'connector'
        ? await recordConnectorEvent(ctx.pool, tenant, actor.userId, body)
        : await recordAnalyticsEvent(ctx.pool, ctx.analytics, tenant, actor.userId, body);
    res.status(201).json({ id: stored.id, kind: body.kind });
  });
  return router;
}

export function describeAnalytics(api: ApiDocs): void {
  api.area('Analytics', "Analytics and connector events for the caller's tenant.", (a) => {
    a.route({
      method: 'post',
      path: '/api/v1/events',
      summary: 'One analytics event (kind may be left out) or connector event',
      auth: 'caller',
      tenantHost: true,
      body: z.union([analyticsEventSchema.extend({ kind: analyticsEventSchema.shape.kind.optional() }), connectorEventSchema]),
      status: 201,
      response: z.object({ id: z.string(), kind: z.enum(['analytics', 'connector']) }).strict(),
    });
  });
}
