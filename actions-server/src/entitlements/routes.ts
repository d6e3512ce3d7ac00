// REST surface of entitlements: the effective features and limits of a tenant
// (its members, platform admins), and what platform admins set: a plan's
// features and limits, a tenant's overrides.
import { tenantIdParam } from '../http/handlers.ts';
import { Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { assertMemberOrPlatformAdmin, authenticate, requirePlatformAdmin } from '../http/middleware.ts';
import { requestActor } from '../audit/actor.ts';
import { planIdSchema } from '../tenants/schemas.ts';
import { getTenantEntitlements, setPlanEntitlements, setTenantEntitlements } from './service.ts';

export function entitlementRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.get('/api/tenants/:id/features', auth, async (req, res) => {
    const id = tenantIdParam(req);
    // A platform admin's claim is re-checked: a demoted one is only a member, if that.
    const platformAdmin = await assertMemberOrPlatformAdmin(ctx, req, id, 'member');
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
