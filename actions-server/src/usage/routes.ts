// REST surface of usage: the month's usage (members) and the usage report with
// overage against the plan, for a month or month by month (owner/admin);
// platform administrators read them all.
// Thin: validate, authorise, call the service.
import { Router, type Request } from 'express';
import { z } from 'zod';
import { readerActor } from '../http/actor.ts';
import type { AppContext } from '../core/context.ts';
import { AppError, validationError } from '../core/errors.ts';
import { authenticate } from '../http/middleware.ts';
import { getUsage, getUsageHistory, getUsageReport, usagePeriod } from './service.ts';
import { meterUsage } from '../metering/service.ts';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';

const querySchema = z.object({
  period: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be a month as YYYY-MM')
    .refine((p) => p <= usagePeriod(), 'must not be in the future')
    .optional(),
});

const historySchema = querySchema.extend({ months: z.coerce.number().int().min(1).max(24).default(12) }).strict();

function parseRequest<T>(req: Request, schema: z.ZodType<T>): { tenantId: string; query: T } {
  const id = z.uuid().safeParse(req.params['id']);
  if (!id.success) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  const query = schema.safeParse(req.query);
  if (!query.success) throw validationError(query.error, 'query');
  return { tenantId: id.data, query: query.data };
}

export function usageRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.get('/api/tenants/:id/usage', auth, async (req, res) => {
    const { tenantId, query } = parseRequest(req, querySchema);
    const period = query.period ?? usagePeriod();
    const actor = await readerActor(ctx, req, tenantId, 'member');
    // This process's API calls are in memory until flushed: include them; and
    // a database tenant's counters live in its database: mirror them first.
    await Promise.all([ctx.usage.flush(), ctx.databases.pullUsage(tenantId)]);
    // Built-in resources, then every product meter (with its cap and overage).
    const [usage, meters] = await Promise.all([getUsage(ctx.pool, actor, period), meterUsage(ctx.pool, actor, period)]);
    res.json({ usage: { ...usage, meters } });
  });

  router.get('/api/tenants/:id/usage/report', auth, async (req, res) => {
    const { tenantId, query } = parseRequest(req, querySchema);
    const actor = await readerActor(ctx, req, tenantId, 'admin');
    await Promise.all([ctx.usage.flush(), ctx.databases.pullUsage(tenantId)]);
    res.json({ report: await getUsageReport(ctx.pool, actor, query.period ?? usagePeriod()) });
  });

  // `months` months ending with `period` (default: this month), each against the plan's limits.
  router.get('/api/tenants/:id/usage/history', auth, async (req, res) => {
    const { tenantId, query } = parseRequest(req, historySchema);
    const actor = await readerActor(ctx, req, tenantId, 'admin');
    await Promise.all([ctx.usage.flush(), ctx.databases.pullUsage(tenantId)]);
    res.json({ history: await getUsageHistory(ctx.pool, actor, query.period ?? usagePeriod(), query.months) });
  });

  return router;
}

const usageSchema = z
  .object({
    tenantId: z.uuid(),
    period: z.string(),
    usersTotal: z.number(),
    channelsTotal: z.number(),
    messagesTotal: z.number(),
    storageBytes: z.number(),
    filesCount: z.number(),
    apiCallsTotal: z.number(),
    apiCallsByEndpoint: z.record(z.string(), z.number()),
  })
  .strict()
  .meta({ id: 'TenantUsage' });

const meterUsageSchema = z
  .object({
    meterId: z.string(),
    name: z.string(),
    unit: z.string(),
    aggregation: z.enum(['sum', 'count', 'max']),
    period: z.string(),
    usage: z.number(),
    events: z.number(),
    cap: z.number().nullable(),
    enforcement: z.enum(['hard', 'soft']).nullable(),
    remaining: z.number().nullable(),
    overage: z.number(),
  })
  .strict();

const limitLineSchema = z
  .object({
    resource: z.enum(['users', 'channels', 'storage_bytes', 'api_calls_month']),
    usage: z.number(),
    limit: z.number().nullable(),
    remaining: z.number().nullable(),
    overage: z.number(),
    atLimit: z.boolean(),
    exceeded: z.boolean(),
  })
  .strict();

export function describeUsage(api: ApiDocs): void {
  api.area('Usage', "A tenant's usage by month, against its plan's limits.", (a) => {
    a.route({
      method: 'get',
      path: '/api/tenants/:id/usage',
      summary: "The month's usage and every product meter with its cap and overage (members)",
      auth: 'caller',
      params: tenantPathParams,
      query: querySchema,
      response: z.object({ usage: usageSchema.extend({ meters: z.array(meterUsageSchema) }) }).strict(),
      errors: [400],
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/usage/report',
      summary: "Usage against the plan's limits with overage (owners, admins)",
      auth: 'caller',
      params: tenantPathParams,
      query: querySchema,
      response: z
        .object({
          report: z
            .object({
              tenantId: z.uuid(),
              period: z.string(),
              plan: z.string(),
              usage: usageSchema,
              limits: z.array(limitLineSchema),
              overLimit: z.boolean(),
            })
            .strict(),
        })
        .strict(),
      errors: [400],
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/usage/history',
      summary: "Month by month (`months`, default 12, ending with `period`), each against the current plan's limits (owners, admins)",
      auth: 'caller',
      params: tenantPathParams,
      query: historySchema,
      response: z
        .object({
          history: z
            .object({
              tenantId: z.uuid(),
              plan: z.string(),
              months: z.array(z.object({ period: z.string(), limits: z.array(limitLineSchema) }).strict()),
            })
            .strict(),
        })
        .strict(),
      errors: [400],
    });
  });
}
