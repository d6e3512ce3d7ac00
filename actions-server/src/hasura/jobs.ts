// Jobs of the Hasura area: pruning delivery receipts, and keeping tenant sources
// in step with the tenants: retries of the
// metadata step (after a status change, after `tenants migrate`) and the
// scheduled reconcile (HASURA_RECONCILE: off | dry-run | repair).
import { z } from 'zod';
import { defineJob, pruneJob } from '../jobs/types.ts';
import type { AppContext } from '../core/context.ts';
import { hasuraExposure } from './wiring.ts';
import { SYNC_SOURCE_JOB, SYNC_SOURCES_JOB, syncPendingSources, syncTenantSource } from './sync.ts';
import { logReconcile, reconcile } from './reconcile.ts';

const exposureOf = (ctx: AppContext) => hasuraExposure(ctx.env, ctx.pool, ctx.log, ctx.databases);

export const HASURA_JOBS = [
  defineJob({
    name: SYNC_SOURCE_JOB,
    payload: z.object({ tenantId: z.uuid() }),
    maxAttempts: 25,
    async run({ tenantId }, ctx) {
      const deps = exposureOf(ctx);
      if (!deps) return;
      // Throws while Hasura is unreachable: the runner retries with backoff.
      const result = await syncTenantSource(deps, tenantId);
      ctx.log.info({ tenantId, source: result.source, action: result.action }, 'Hasura tenant source synced');
    },
  }),
  defineJob({
    name: SYNC_SOURCES_JOB,
    payload: z.object({}).loose(),
    maxAttempts: 25,
    async run(_payload, ctx) {
      const deps = exposureOf(ctx);
      if (!deps) return;
      const report = await syncPendingSources(deps, { concurrency: ctx.env.TENANT_MIGRATION_CONCURRENCY, queueRetry: false });
      if (report.failed.length > 0) throw new Error(`${report.failed.length} of ${report.total} tenant sources still not updated`);
    },
  }),
  defineJob({
    name: 'hasura.reconcile',
    payload: z.object({}).loose(),
    schedule: '*/15 * * * *',
    async run(_payload, ctx) {
      const mode = ctx.env.HASURA_RECONCILE;
      const deps = exposureOf(ctx);
      if (mode === 'off' || !deps) return;
      logReconcile(ctx.log, await reconcile(deps, { dryRun: mode !== 'repair' }));
    },
  }),
  pruneJob('hasura.prune-receipts', '10 4 * * *', 30, 'public.prune_hasura_event_receipts'),
];
