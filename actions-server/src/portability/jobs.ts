// Jobs of data portability: tenant exports (enqueued by the exports route) and
// the daily retention run (audit entries past their plan's retention, expired
// export archives).
import { z } from 'zod';
import { defineJob } from '../jobs/types.ts';
import { EXPORT_JOB, purgeExpiredExports, runExport } from './exports.ts';

export const RETENTION_JOB = 'portability.retention';

export const PORTABILITY_JOBS = [
  defineJob({
    name: EXPORT_JOB,
    payload: z.object({ tenantId: z.uuid(), exportId: z.uuid() }),
    maxAttempts: 1,
    run: (p, ctx) => runExport(ctx, p.tenantId, p.exportId),
  }),
  defineJob({
    name: RETENTION_JOB,
    payload: z.object({}).loose(),
    schedule: '17 3 * * *',
    async run(_p, ctx) {
      const removed = (await ctx.pool.query<{ n: string }>('select public.apply_audit_retention()::text as n')).rows[0]?.n ?? '0';
      const archives = await purgeExpiredExports(ctx);
      ctx.log.info({ auditEntriesRemoved: Number(removed), archivesDeleted: archives }, 'retention applied');
    },
  }),
];
