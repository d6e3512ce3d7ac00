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
