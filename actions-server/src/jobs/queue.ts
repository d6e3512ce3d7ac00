// Enqueueing through graphile-worker's SQL function, so a job can be added in
// the same transaction as the change that calls for it (it exists only if that
// commits).
import type { Pool, Client } from '../db/tx.ts';

export interface EnqueueOptions {
  /** Replaces a pending job with the same key instead of adding a second one. */
  jobKey?: string;
  runAt?: Date;
  maxAttempts?: number;
  /** Jobs of one queue run one at a time, in order. */
  queue?: string;
}

export async function enqueue(db: Pool | Client, name: string, payload: unknown, opts: EnqueueOptions = {}): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `select (graphile_worker.add_job($1, $2::json, queue_name => $3, run_at => $4, max_attempts => $5, job_key => $6)).id::text as id`,
    [name, JSON.stringify(payload ?? {}), opts.queue ?? null, opts.runAt ?? null, opts.maxAttempts ?? null, opts.jobKey ?? null],
  );
  return rows[0]!.id;
}

interface Waker {
  running: Promise<void> | null;
  again: Promise<void> | null;
}
const wakers = new WeakMap<Pool, Map<string, Waker>>();

/**
 * Queues the job `name` under its own job key (one pending copy; a new one if
 * that copy is already running), and resolves once a queueing that started
 * after this call is done: work committed before the call is seen by a job
 * queued after it. Callers that arrive while a queueing is in flight share the
 * next one, so a burst costs a few round trips, not one each.
 */
export function wakeJob(pool: Pool, name: string, opts: Omit<EnqueueOptions, 'jobKey'> = {}): Promise<void> {
  const byName = wakers.get(pool) ?? new Map<string, Waker>();
  wakers.set(pool, byName);
  const w = byName.get(name) ?? { running: null, again: null };
  byName.set(name, w);
  if (!w.running) {
    w.running = enqueue(pool, name, {}, { ...opts, jobKey: name })
      .then(() => undefined)
      .finally(() => {
        w.running = null;
      });
    return w.running;
  }
  // The queueing in flight may have started before this caller's work committed.
  w.again ??= w.running
    .catch(() => undefined)
    .then(() => {
      w.again = null;
      return wakeJob(pool, name, opts);
    });
  return w.again;
}
