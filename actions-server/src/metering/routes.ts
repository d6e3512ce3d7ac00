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
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';
import { trackBatchSchema, trackEventSchema } from './schemas.ts';

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

const meterSchema = z
  .object({ id: z.string(), name: z.string(), aggregation: z.enum(['sum', 'count', 'max']), unit: z.string() })
  .strict()
  .meta({ id: 'Meter' });
const meterAnswer = z.object({ meter: meterSchema }).strict();

export function describeMetering(api: ApiDocs): void {
  api.area('Metering', "Usage events for product meters on a tenant's host, and meters and caps for platform admins.", (a) => {
    const meterPath = z.object({ meterId: meterIdSchema });
    a.route({
      method: 'post',
      path: '/api/v1/usage/track',
      summary: 'One usage event, or {events: [...]} (at most 1,000): 201 when any was new, 200 when all were duplicates',
      auth: 'caller',
      tenantHost: true,
      body: z.union([trackBatchSchema, trackEventSchema]),
      status: [201, 200],
      response: z
        .object({
          accepted: z.number().int(),
          duplicates: z.number().int(),
          events: z.array(z.object({ id: z.string(), idempotency_key: z.string(), duplicate: z.boolean() }).strict()),
        })
        .strict(),
      // An idempotency key used again with another event.
      errors: [409],
    });
    a.route({
      method: 'post',
      path: '/api/v1/usage/check',
      summary: 'Whether an amount of a meter is still allowed this period',
      auth: 'caller',
      tenantHost: true,
      body: checkBodySchema,
      response: z
        .object({
          allowed: z.boolean(),
          remaining: z.number().nullable(),
          resetsAt: z.iso.datetime({ offset: true }),
          usage: z.number(),
          cap: z.number().nullable(),
          enforcement: z.string().nullable(),
        })
        .strict(),
    });
    a.route({
      method: 'get',
      path: '/api/v1/meters',
      summary: 'The meters',
      auth: 'caller',
      response: z.object({ meters: z.array(meterSchema) }).strict(),
    });
    a.route({
      method: 'post',
      path: '/api/v1/meters',
      summary: 'Create a meter (platform admins)',
      auth: 'platformAdmin',
      body: createMeterSchema,
      status: 201,
      response: meterAnswer,
      errors: [409],
    });
    a.route({
      method: 'patch',
      path: '/api/v1/meters/:meterId',
      summary: 'Rename a meter or change its unit (platform admins)',
      auth: 'platformAdmin',
      params: meterPath,
      body: updateMeterSchema,
      response: meterAnswer,
    });
    a.route({
      method: 'put',
      path: '/api/v1/plans/:planId/meters/:meterId',
      summary: "A plan's cap of a meter (null = unlimited) and its Stripe meter (platform admins)",
      auth: 'platformAdmin',
      params: meterPath.extend({ planId: z.string() }),
      body: planMeterSchema,
      response: planMeterSchema.extend({ planId: z.string(), meterId: z.string() }).strict(),
    });
    a.route({
      method: 'put',
      path: '/api/tenants/:id/meters/:meterId',
      summary: "A tenant's own cap of a meter (platform admins)",
      auth: 'platformAdmin',
      params: tenantPathParams.extend(meterPath.shape),
      body: capSchema,
      response: capSchema.extend({ tenantId: z.uuid(), meterId: z.string() }).strict(),
    });
    a.route({
      method: 'delete',
      path: '/api/tenants/:id/meters/:meterId',
      summary: "Back to the plan's cap (platform admins)",
      auth: 'platformAdmin',
      params: tenantPathParams.extend(meterPath.shape),
      status: 204,
      response: null,
    });
  });
}
