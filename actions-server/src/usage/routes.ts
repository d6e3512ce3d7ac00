// REST surface of usage: the month's usage (members) and the usage report with
// overage against the plan, for a month or month by month (owner/admin);
// platform administrators read them all.
// Thin: validate, authorise, call the service.
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError, validationError } from '../core/errors.ts';
import { assertMemberOrPlatformAdmin, authenticate } from '../http/middleware.ts';
import { getUsage, getUsageHistory, getUsageReport, usagePeriod } from './service.ts';
import { meterUsage } from '../metering/service.ts';

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
    await assertMemberOrPlatformAdmin(ctx, req, tenantId, 'member');
    // This process's API calls are in memory until flushed: include them; and
    // a database tenant's counters live in its database: mirror them first.
    await Promise.all([ctx.usage.flush(), ctx.databases.pullUsage(tenantId)]);
    const actor = { tenantId, userId: req.auth!.userId };
    // Built-in resources, then every product meter (with its cap and overage).
    const [usage, meters] = await Promise.all([getUsage(ctx.pool, actor, period), meterUsage(ctx.pool, actor, period)]);
    res.json({ usage: { ...usage, meters } });
  });

  router.get('/api/tenants/:id/usage/report', auth, async (req, res) => {
    const { tenantId, query } = parseRequest(req, querySchema);
    await assertMemberOrPlatformAdmin(ctx, req, tenantId, 'admin');
    await Promise.all([ctx.usage.flush(), ctx.databases.pullUsage(tenantId)]);
    res.json({ report: await getUsageReport(ctx.pool, { tenantId, userId: req.auth!.userId }, query.period ?? usagePeriod()) });
  });

  // `months` months ending with `period` (default: this month), each against the plan's limits.
  router.get('/api/tenants/:id/usage/history', auth, async (req, res) => {
    const { tenantId, query } = parseRequest(req, historySchema);
    await assertMemberOrPlatformAdmin(ctx, req, tenantId, 'admin');
    await Promise.all([ctx.usage.flush(), ctx.databases.pullUsage(tenantId)]);
    const actor = { tenantId, userId: req.auth!.userId };
    res.json({ history: await getUsageHistory(ctx.pool, actor, query.period ?? usagePeriod(), query.months) });
  });

  return router;
}
