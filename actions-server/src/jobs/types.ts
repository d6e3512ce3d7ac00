// A job is one named, idempotent piece of work run by the job runner
// (graphile-worker on PostgreSQL). Each area declares its own jobs and the
// registry (jobs/registry.ts) lists them; periodic ones carry a cron schedule.
import type { z } from 'zod';
import type { JobHelpers } from 'graphile-worker';
import type { AppContext } from '../core/context.ts';

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
}

/** Erases the payload type so jobs of every area fit in one list. */
export function defineJob<P>(def: JobDefinition<P>): JobDefinition {
  return def as unknown as JobDefinition;
}
