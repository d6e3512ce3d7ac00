// REST surface of entitlements: the effective features and limits of a tenant
// (its members, platform admins), and what platform admins set: a plan's
// features and limits, a tenant's overrides.
import { tenantIdParam } from '../http/handlers.ts';
import { Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { assertMemberOrPlatformAdmin, authenticate, requirePlatformAdmin } from '../http/middleware.ts';
import { requestActor } from '../http/actor.ts';
import { planIdSchema } from '../tenants/schemas.ts';
import {
  getTenantEntitlements,
  LIMIT_KEYS,
  planEntitlementsSchema,
  setPlanEntitlements,
  setTenantEntitlements,
  tenantEntitlementsSchema,
} from './service.ts';
import { z } from 'zod';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';

export function entitlementRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.get('/api/tenants/:id/features', auth, async (req, res) => {
    const id = tenantIdParam(req);
    // A platform admin's claim is re-checked: a demoted one is only a member, if that.
    const platformAdmin = (await assertMemberOrPlatformAdmin(ctx, req, id, 'member')) === null;
    res.json({ entitlements: await getTenantEntitlements(ctx.pool, id, { userId: req.auth!.userId, platformAdmin }) });
  });

  router.put('/api/tenants/:id/entitlements', auth, requirePlatformAdmin(ctx), async (req, res) => {
    const id = tenantIdParam(req);
    res.json({ entitlements: await setTenantEntitlements(ctx.pool, id, req.body, requestActor(req)) });
  });

  router.put('/api/plans/:id/entitlements', auth, requirePlatformAdmin(ctx), async (req, res) => {
    const plan = planIdSchema.safeParse(req.params['id']);
    if (!plan.success) throw new AppError('NOT_FOUND', 'Unknown plan');
    res.json({ plan: await setPlanEntitlements(ctx.pool, plan.data, req.body, requestActor(req)) });
  });

  return router;
}

const features = z.record(z.string(), z.boolean());
const limits = z.object(Object.fromEntries(LIMIT_KEYS.map((k) => [k, z.number().int()])));

const tenantEntitlementsAnswer = z
  .object({
    entitlements: z
      .object({
        tenantId: z.uuid(),
        plan: z.string(),
        features,
        limits,
        overrides: z.object({ features, limits: limits.partial() }).strict(),
        availableIn: z.record(z.string(), z.array(z.string())),
      })
      .strict()
      .meta({ id: 'TenantEntitlements', description: 'Limits: -1 = unlimited.' }),
  })
  .strict();

export function describeEntitlements(api: ApiDocs): void {
  api.area('Entitlements', "Plans' features and limits, and a tenant's overrides.", (a) => {
    a.route({
      method: 'get',
      path: '/api/tenants/:id/features',
      summary: "Effective features and limits, the tenant's overrides, and the plans that include each missing feature",
      auth: 'caller',
      params: tenantPathParams,
      response: tenantEntitlementsAnswer,
    });
    a.route({
      method: 'put',
      path: '/api/tenants/:id/entitlements',
      summary: "Set (a value) or remove (null) a tenant's overrides (platform admins); audited in the tenant's trail",
      auth: 'platformAdmin',
      params: tenantPathParams,
      body: tenantEntitlementsSchema,
      response: tenantEntitlementsAnswer,
    });
    a.route({
      method: 'put',
      path: '/api/plans/:id/entitlements',
      summary: "Set a plan's features and limits (platform admins); audited in platform_audit_logs",
      auth: 'platformAdmin',
      params: z.object({ id: planIdSchema }),
      body: planEntitlementsSchema,
      response: z.object({ plan: z.object({ plan: z.string(), features, limits }).strict() }).strict(),
    });
  });
}
