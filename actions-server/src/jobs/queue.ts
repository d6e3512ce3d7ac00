// Enqueueing through graphile-worker's SQL function, so a job can be added in
// the same transaction as the change that calls for it (it exists only if that
// commits).
import { setTimeout as delay } from 'node:timers/promises';
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

/** How long a wake waits for more callers to share it: bounds queueings to a few dozen a second. */
const WAKE_WINDOW_MS = 50;

interface Waker {
  /** The next queueing, not started yet: every caller until it starts shares it. */
  next: Promise<void> | null;
  /** The queueing in flight. */
  running: Promise<void> | null;
}
const wakers = new WeakMap<Pool, Map<string, Waker>>();

/**
 * Queues the job `name` under its own job key (one pending copy; a new one if
 * that copy is already running), and resolves once a queueing that started
 * after this call is done: work committed before the call is seen by a job
 * queued after it. Callers within WAKE_WINDOW_MS of each other share one
 * queueing, so a burst of thousands costs a few round trips a second.
 */
export function wakeJob(pool: Pool, name: string, opts: Omit<EnqueueOptions, 'jobKey'> = {}): Promise<void> {
  const byName = wakers.get(pool) ?? new Map<string, Waker>();
  wakers.set(pool, byName);
  const w = byName.get(name) ?? { next: null, running: null };
  byName.set(name, w);
  w.next ??= (async () => {
    await delay(WAKE_WINDOW_MS);
    // One queueing at a time: the one in flight may have started before this caller's work committed.
    await w.running?.catch(() => undefined);
    w.next = null;
    const running = enqueue(pool, name, {}, { ...opts, jobKey: name }).then(() => undefined);
    w.running = running;
    try {
      await running;
    } finally {
      if (w.running === running) w.running = null;
    }
  })();
  return w.next;
}

/** Resolves once every wake asked of this pool so far has queued its job (or failed). */
export async function wakesSettled(pool: Pool): Promise<void> {
  for (const w of wakers.get(pool)?.values() ?? []) {
    await w.next?.catch(() => undefined);
    await w.running?.catch(() => undefined);
  }
}
