// REST surface of tenant webhooks: owners and admins manage endpoints, read the
// delivery log and replay a delivery. The signing secret is in create's answer only.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { memberActor } from '../http/actor.ts';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { authenticate } from '../http/middleware.ts';
import { enqueue } from '../jobs/queue.ts';
import { parseBody } from '../metering/routes.ts';
import { EVENT_CATALOGUE, EVENT_TYPES, MAX_ATTEMPTS, RETRY_SCHEDULE_MS } from './catalogue.ts';
import {
  createEndpoint,
  deleteEndpoint,
  DELIVER_JOB,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  replayDelivery,
  updateEndpoint,
} from './service.ts';
import { assertTargetAllowed, parseTargetUrl, TargetRefused } from './targets.ts';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';

const urlField = z
  .string()
  .max(2000)
  .superRefine((v, ctx) => {
    try {
      parseTargetUrl(v);
    } catch (err) {
      if (err instanceof TargetRefused) ctx.addIssue({ code: 'custom', message: err.message });
      else throw err;
    }
  });
const eventTypes = z
  .array(z.string().max(100))
  .min(1)
  .max(50)
  .superRefine((types, ctx) => {
    types.forEach((t, i) => {
      if (!(EVENT_TYPES as string[]).includes(t)) {
        ctx.addIssue({ code: 'custom', path: [i], message: `unknown event type "${t}" (see GET /api/webhooks/event-types)` });
      }
    });
  });

const createSchema = z.object({ url: urlField, eventTypes, description: z.string().max(500).optional() });
const updateSchema = z
  .object({
    url: urlField.optional(),
    eventTypes: eventTypes.optional(),
    description: z.string().max(500).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .refine((v) => Object.values(v).some((x) => x !== undefined), 'nothing to change');
const logQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });

function ids(req: Request, ...names: string[]): string[] {
  return names.map((n) => {
    const parsed = z.uuid().safeParse(req.params[n]);
    if (!parsed.success)
      throw new AppError(n === 'id' ? 'TENANT_NOT_FOUND' : 'NOT_FOUND', n === 'id' ? 'Tenant not found' : `No such ${n}`);
    return parsed.data;
  });
}

export function webhookRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);
  const admin = (req: Request) => memberActor(ctx, req, ids(req, 'id')[0]!, 'admin');
  const allowPrivate = () => ctx.env.WEBHOOK_ALLOW_PRIVATE_TARGETS;

  router.get('/api/webhooks/event-types', (_req, res) => {
    res.json({
      eventTypes: EVENT_TYPES.map((type) => ({ type, description: EVENT_CATALOGUE[type] })),
      retrySchedule: { attempts: MAX_ATTEMPTS, delaysMs: RETRY_SCHEDULE_MS },
    });
  });

  router.get('/api/tenants/:id/webhooks', auth, async (req, res) => {
    res.json({ endpoints: await listEndpoints(ctx.pool, await admin(req)) });
  });

  router.post('/api/tenants/:id/webhooks', auth, async (req, res) => {
    const body = parseBody(createSchema, req.body);
    const actor = await admin(req);
    await assertTargetAllowed(body.url, allowPrivate());
    const { endpoint, secret } = await createEndpoint(ctx.pool, actor, body);
    // The only time the secret is shown.
    res.status(201).json({ endpoint, secret });
  });

  router.get('/api/tenants/:id/webhooks/:endpointId', auth, async (req, res) => {
    const actor = await admin(req);
    res.json({ endpoint: await getEndpoint(ctx.pool, actor, ids(req, 'endpointId')[0]!) });
  });

  router.patch('/api/tenants/:id/webhooks/:endpointId', auth, async (req, res) => {
    const body = parseBody(updateSchema, req.body);
    const actor = await admin(req);
    if (body.url !== undefined) await assertTargetAllowed(body.url, allowPrivate());
    res.json({ endpoint: await updateEndpoint(ctx.pool, actor, ids(req, 'endpointId')[0]!, body) });
  });

  router.delete('/api/tenants/:id/webhooks/:endpointId', auth, async (req, res) => {
    const actor = await admin(req);
    await deleteEndpoint(ctx.pool, actor, ids(req, 'endpointId')[0]!);
    res.status(204).end();
  });

  router.get('/api/tenants/:id/webhooks/:endpointId/deliveries', auth, async (req, res) => {
    const actor = await admin(req);
    const query = parseBody(logQuery, req.query, 'query');
    res.json({ deliveries: await listDeliveries(ctx.pool, actor, ids(req, 'endpointId')[0]!, query.limit) });
  });

  router.post('/api/tenants/:id/webhooks/:endpointId/deliveries/:deliveryId/replay', auth, async (req, res) => {
    const actor = await admin(req);
    const [endpointId, deliveryId] = ids(req, 'endpointId', 'deliveryId');
    const delivery = await replayDelivery(ctx.pool, actor, endpointId!, deliveryId!);
    await enqueue(ctx.pool, DELIVER_JOB, {}, { jobKey: `${DELIVER_JOB}:due` });
    res.status(202).json({ delivery });
  });

  return router;
}

const isoTime = z.iso.datetime({ offset: true });

const endpointSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    enabled: z.boolean(),
    disabledAt: isoTime.nullable(),
    disabledReason: z.string().nullable(),
    failingSince: isoTime.nullable(),
    createdAt: isoTime,
  })
  .strict()
  .meta({ id: 'WebhookEndpoint' });
const endpointAnswer = z.object({ endpoint: endpointSchema }).strict();

const deliverySchema = z
  .object({
    id: z.uuid(),
    eventId: z.string(),
    eventType: z.string(),
    status: z.string(),
    attempts: z.number().int(),
    nextAttemptAt: isoTime.nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastLatencyMs: z.number().nullable(),
    lastError: z.string().nullable(),
    replayOf: z.uuid().nullable(),
    createdAt: isoTime,
    history: z.array(
      z
        .object({
          attempt: z.number().int(),
          statusCode: z.number().int().nullable(),
          latencyMs: z.number(),
          error: z.string().nullable(),
          at: isoTime,
        })
        .strict(),
    ),
  })
  .strict()
  .meta({ id: 'WebhookDelivery' });

export function describeWebhooks(api: ApiDocs): void {
  api.area('Webhooks', "A tenant's webhook endpoints and their delivery log (owners, admins).", (a) => {
    const endpointPath = tenantPathParams.extend({ endpointId: z.uuid() });
    a.route({
      method: 'get',
      path: '/api/webhooks/event-types',
      summary: 'The events catalogue and the retry schedule',
      auth: 'anonymous',
      response: z
        .object({
          eventTypes: z.array(z.object({ type: z.string(), description: z.string() }).strict()),
          retrySchedule: z.object({ attempts: z.number().int(), delaysMs: z.array(z.number()) }).strict(),
        })
        .strict(),
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/webhooks',
      summary: 'The endpoints',
      auth: 'caller',
      params: tenantPathParams,
      response: z.object({ endpoints: z.array(endpointSchema) }).strict(),
    });
    a.route({
      method: 'post',
      path: '/api/tenants/:id/webhooks',
      summary: 'Add an endpoint: the signing secret is shown only in this answer',
      auth: 'caller',
      params: tenantPathParams,
      body: createSchema,
      status: 201,
      response: endpointAnswer.extend({ secret: z.string() }),
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/webhooks/:endpointId',
      summary: 'One endpoint',
      auth: 'caller',
      params: endpointPath,
      response: endpointAnswer,
    });
    a.route({
      method: 'patch',
      path: '/api/tenants/:id/webhooks/:endpointId',
      summary: 'Change an endpoint',
      auth: 'caller',
      params: endpointPath,
      body: updateSchema,
      response: endpointAnswer,
    });
    a.route({
      method: 'delete',
      path: '/api/tenants/:id/webhooks/:endpointId',
      summary: 'Delete an endpoint',
      auth: 'caller',
      params: endpointPath,
      status: 204,
      response: null,
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/webhooks/:endpointId/deliveries',
      summary: "The delivery log: status, attempts, each attempt's status code, latency and error",
      auth: 'caller',
      params: endpointPath,
      query: logQuery,
      response: z.object({ deliveries: z.array(deliverySchema) }).strict(),
      errors: [400],
    });
    a.route({
      method: 'post',
      path: '/api/tenants/:id/webhooks/:endpointId/deliveries/:deliveryId/replay',
      summary: 'Send that event again as a new delivery',
      auth: 'caller',
      params: endpointPath.extend({ deliveryId: z.uuid() }),
      status: 202,
      response: z.object({ delivery: z.object({ id: z.uuid() }).strict() }).strict(),
      errors: [409],
    });
  });
}
