// A job is one named, idempotent piece of work run by the job runner
// (graphile-worker on PostgreSQL). Each area declares its own jobs and the
// registry (jobs/registry.ts) lists them; periodic ones carry a cron schedule.
import { z } from 'zod';
import type { JobHelpers } from 'graphile-worker';
import type { AppContext } from '../core/context.ts';
import { asSystem } from '../db/tx.ts';

export interface JobDefinition<P = unknown> {
  /** Task identifier, `<area>.<verb>` (e.g. `billing.end-trials`). */
  name: string;
  /** Checked before the job runs: a payload that does not parse fails the job. */
  payload: z.ZodType<P>;
  /** Must be safe to run again: a worker killed mid-job runs it once more. */
  run(payload: P, ctx: AppContext, helpers: JobHelpers): Promise<void>;
  /** Cron pattern (UTC, five fields) for periodic jobs: one run per slot across every worker. */
  schedule?: string;
  /** Attempts before the job is left failed (graphile-worker retries with exponential backoff). */
  maxAttempts?: number;
  /** Queued (once, by job key) whenever a worker starts, if this says so (e.g. catching up on what was missed while down). */
  runOnWorkerStart?: (ctx: AppContext) => boolean;
}

/** Erases the payload type so jobs of every area fit in one list. */
export function defineJob<P>(def: JobDefinition<P>): JobDefinition {
  return def;
}

/**
 * Payload of a periodic job: graphile-worker's cron adds `_cron.ts`, the slot's
 * time, which is the job's clock (a late or backfilled run judges as of its
 * slot); `now` lets an operator or a test pass the clock explicitly.
 */
export const periodicPayload = z
  .object({
    now: z.iso.datetime({ offset: true }).optional(),
    _cron: z.object({ ts: z.string() }).loose().optional(),
  })
  .loose();
export type PeriodicPayload = z.infer<typeof periodicPayload>;

/** Payload of a periodic clean-up: how old (in days) what it removes must be, `days` unless the run says otherwise. */
export const olderThanPayload = (days: number) =>
  periodicPayload.extend({ olderThanDays: z.number().int().min(1).max(3650).default(days) });

/** The clock of a periodic run: `now`, else the cron slot, else the wall clock. */
export function jobClock(payload: PeriodicPayload): Date {
  const raw = payload.now ?? payload._cron?.ts;
  const at = raw ? new Date(raw) : new Date();
  return Number.isNaN(at.getTime()) ? new Date() : at;
}

/** A periodic job whose work takes the run's clock (jobClock). */
export function periodicJob(name: string, schedule: string, work: (ctx: AppContext, now: Date) => Promise<unknown>): JobDefinition {
  return defineJob({
    name,
    payload: periodicPayload,
    schedule,
    run: async (payload, ctx) => {
      await work(ctx, jobClock(payload));
    },
  });
}

/**
 * A periodic clean-up done by one SQL function taking an age (`select fn(interval)`),
 * as cron. `sqlFunction` is the caller's constant, never input.
 */
export function pruneJob(name: string, schedule: string, days: number, sqlFunction: string): JobDefinition {
  return defineJob({
    name,
    payload: olderThanPayload(days),
    schedule,
    run: async ({ olderThanDays }, ctx) => {
      await asSystem(ctx.pool, (c) => c.query(`select ${sqlFunction}(make_interval(days => $1))`, [olderThanDays]), { kind: 'cron' });
    },
  });
}
