// What operators see of the job queue: jobs waiting, running and failed (a
// failed job keeps its last error and is retried with exponential backoff until
// its attempts run out), a retry that runs one again at once, and a discard
// that drops one for good.
import type { Pool } from '../db/tx.ts';

/** graphile-worker's job ids are bigints. */
export const JOB_ID_RE = /^\d{1,18}$/;

export interface JobRow {
  id: string;
  task: string;
  state: 'waiting' | 'running' | 'retrying' | 'failed';
  attempts: number;
  maxAttempts: number;
  runAt: string;
  key: string | null;
  lastError: string | null;
}

/** Every job in the queue (oldest first), only those whose last attempt failed, or one job. */
export async function listJobs(pool: Pool, opts: { failed?: boolean; limit?: number; id?: string } = {}): Promise<JobRow[]> {
  const { rows } = await pool.query<{
    id: string;
    task_identifier: string;
    attempts: number;
    max_attempts: number;
    run_at: Date;
    key: string | null;
    last_error: string | null;
    locked_at: Date | null;
  }>(
    `select id::text, task_identifier, attempts, max_attempts, run_at, key, last_error, locked_at
       from graphile_worker.jobs
      where (not $1 or last_error is not null) and ($3::bigint is null or id = $3::bigint)
      order by id limit $2`,
    [opts.failed ?? false, opts.limit ?? 1000, opts.id ?? null],
  );
  return rows.map((r) => ({
    id: r.id,
    task: r.task_identifier,
    state: r.locked_at ? 'running' : r.attempts >= r.max_attempts ? 'failed' : r.last_error ? 'retrying' : 'waiting',
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    runAt: r.run_at.toISOString(),
    key: r.key,
    // First line only: errors carry stacks.
    lastError: r.last_error ? (r.last_error.split('\n')[0] ?? '').slice(0, 500) : null,
  }));
}

/**
 * Runs a job again now with a fresh set of attempts; false if there is no such job or it is running.
 * graphile-worker's SQL function directly: its WorkerUtils.rescheduleJobs sends `attempts: 0` as null (unchanged).
 */
export async function retryJob(pool: Pool, id: string): Promise<boolean> {
  const { rowCount } = await pool.query(
    'select 1 from graphile_worker.reschedule_jobs(array[$1::bigint], run_at := now(), attempts := 0)',
    [id],
  );
  return (rowCount ?? 0) > 0;
}

/** Drops a job without running it (graphile-worker deletes a completed job); false if there is no such job or it is running. */
export async function discardJob(pool: Pool, id: string): Promise<boolean> {
  const { rowCount } = await pool.query('select 1 from graphile_worker.complete_jobs(array[$1::bigint])', [id]);
  return (rowCount ?? 0) > 0;
}
