// REST surface of metering: ingestion and the enforcement check on a tenant's
// host (the tenant is the credentials', never the body's), meters and caps for
// platform admins. Thin: validate, authorise, call the service.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { memberActor } from '../http/actor.ts';
import type { TenantActor } from '../core/actor.ts';
import type { AppContext } from '../core/context.ts';
import { AppError, validationError } from '../core/errors.ts';
import { authenticate, requirePlatformAdmin, requireTenantHost } from '../http/middleware.ts';
import {
  checkBodySchema,
  capSchema,
  createMeterSchema,
  meterIdSchema,
  planMeterSchema,
  parseTrackBody,
  updateMeterSchema,
} from './schemas.ts';
import { checkUsage, createMeter, listMeters, setPlanMeter, setTenantMeterCap, trackUsage, updateMeter } from './service.ts';

export function parseBody<T>(schema: z.ZodType<T>, body: unknown, what = 'body'): T {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}

function param(req: Request, name: string, schema: z.ZodType<string> = z.string().min(1).max(200)): string {
  const parsed = schema.safeParse(req.params[name]);
  if (!parsed.success) throw new AppError('NOT_FOUND', `Unknown ${name}`);
  return parsed.data;
}

/** The acting member of the host's tenant (role read from the database). */
export function tenantActor(ctx: AppContext, req: Request): Promise<TenantActor> {
  return memberActor(ctx, req, req.tenant!.id, 'member');
}

export function meteringRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);
  const onTenant = [requireTenantHost(), auth];
  const admin = [auth, requirePlatformAdmin(ctx)];

  router.post('/api/v1/usage/track', ...onTenant, async (req, res) => {
    const parsed = parseTrackBody(req.body);
    if (!parsed.ok) throw validationError(parsed.error, 'body');
    const actor = await tenantActor(ctx, req);
    const result = await trackUsage(ctx.pool, actor, parsed.events);
    res.status(result.accepted > 0 ? 201 : 200).json(result);
  });

  router.post('/api/v1/usage/check', ...onTenant, async (req, res) => {
    const body = parseBody(checkBodySchema, req.body);
    const actor = await tenantActor(ctx, req);
    res.json(await checkUsage(ctx.pool, actor, body.meter_id, body.amount));
  });

  router.get('/api/v1/meters', auth, async (_req, res) => {
    res.json({ meters: await listMeters(ctx.pool) });
  });

  router.post('/api/v1/meters', ...admin, async (req, res) => {
    const body = parseBody(createMeterSchema, req.body);
    res.status(201).json({ meter: await createMeter(ctx.pool, req.auth!.userId, body) });
  });

  router.patch('/api/v1/meters/:meterId', ...admin, async (req, res) => {
    const body = parseBody(updateMeterSchema, req.body);
    res.json({ meter: await updateMeter(ctx.pool, req.auth!.userId, param(req, 'meterId', meterIdSchema), body) });
  });

  router.put('/api/v1/plans/:planId/meters/:meterId', ...admin, async (req, res) => {
    const body = parseBody(planMeterSchema, req.body);
    await setPlanMeter(ctx.pool, req.auth!.userId, param(req, 'planId'), param(req, 'meterId', meterIdSchema), body);
    res.json({ planId: req.params['planId'], meterId: req.params['meterId'], ...body });
  });

  router.put('/api/tenants/:id/meters/:meterId', ...admin, async (req, res) => {
    const body = parseBody(capSchema, req.body);
    await setTenantMeterCap(ctx.pool, req.auth!.userId, param(req, 'id', z.uuid()), param(req, 'meterId', meterIdSchema), body);
    res.json({ tenantId: req.params['id'], meterId: req.params['meterId'], ...body });
  });

  router.delete('/api/tenants/:id/meters/:meterId', ...admin, async (req, res) => {
    await setTenantMeterCap(ctx.pool, req.auth!.userId, param(req, 'id', z.uuid()), param(req, 'meterId', meterIdSchema), undefined);
    res.status(204).end();
  });

  return router;
}
