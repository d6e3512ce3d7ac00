// The job runner: graphile-worker over the main pool, the registry's jobs as
// its task list and their schedules as cron items. graphile-worker records each
// cron slot it has run (known_crontabs) and takes jobs with SKIP LOCKED, so any
// number of processes may run it and each slot still runs once.
//
// A worker killed outright (SIGKILL, a lost machine) leaves its jobs locked;
// graphile-worker frees them only after four hours. So each running worker also
// holds a PostgreSQL advisory lock named after its id on a connection of its
// own: the lock disappears with the process. Every runner sweeps at start and
// then every minute, and unlocks the jobs of any worker whose advisory lock it
// can take (that worker is gone); those jobs then run again. A job must
// therefore be idempotent (see types.ts).
import { EventEmitter } from 'node:events';
import {
  parseCronItems,
  run,
  runMigrations,
  runOnce,
  Logger as WorkerLogger,
  type JobHelpers,
  type Runner,
  type TaskList,
} from 'graphile-worker';
import type { AppContext } from '../core/context.ts';
import type { Logger } from '../core/log.ts';
import type { Pool } from '../db/tx.ts';
import { JOBS } from './registry.ts';
import { enqueue, wakesSettled } from './queue.ts';
import type { JobDefinition } from './types.ts';

/** Installs or upgrades graphile-worker's own schema (`graphile_worker`); safe to run again. */
export async function installJobQueue(pool: Pool, log?: Logger): Promise<void> {
  await runMigrations({ pgPool: pool, logger: workerLogger(log) });
}

function workerLogger(log: Logger | undefined): WorkerLogger {
  return new WorkerLogger(() => (level, message, meta) => {
    if (!log) return;
    const name: string = level;
    const fn = name === 'error' ? log.error : name === 'warning' ? log.warn : name === 'info' ? log.info : log.debug;
    fn.call(log, { job: meta }, message);
  });
}

export function taskList(ctx: AppContext, jobs: readonly JobDefinition[] = JOBS): TaskList {
  return Object.fromEntries(
    jobs.map((job) => [
      job.name,
      async (raw: unknown, helpers: JobHelpers) => {
        const payload = job.payload.parse(raw ?? {});
        await job.run(payload, ctx, helpers);
      },
    ]),
  );
}

export interface JobRunner {
  /**
   * Takes no new jobs; running ones finish. With `graceMs`, jobs still running
   * after it are failed back to the queue (graphile-worker's forceful stop) so
   * another worker retries them instead of waiting for their lock to expire.
   */
  stop(graceMs?: number): Promise<void>;
}

/** Advisory-lock key of a worker id (64-bit hash; a collision only delays a sweep). */
const LIVENESS_SQL_KEY = `hashtextextended('graphile-worker:' || $1, 0)`;
/** A lock younger than this may belong to a worker still taking its advisory lock: never swept. */
const SWEEP_GRACE = '30 seconds';
const SWEEP_INTERVAL_MS = 60_000;

/**
 * Unlocks the jobs of workers that are gone (their advisory lock is free);
 * returns their ids. Safe from any process, any number of times.
 */
export async function releaseDeadWorkers(pool: Pool, log?: Logger): Promise<string[]> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked_by: string }>(
      `select distinct locked_by from graphile_worker._private_jobs
        where locked_by is not null and locked_at < now() - interval '${SWEEP_GRACE}'`,
    );
    const dead: string[] = [];
    for (const { locked_by: id } of rows) {
      const got = (await client.query<{ got: boolean }>(`select pg_try_advisory_lock(${LIVENESS_SQL_KEY}) as got`, [id])).rows[0]?.got;
      if (!got) continue;
      await client.query(`select pg_advisory_unlock(${LIVENESS_SQL_KEY})`, [id]);
      dead.push(id);
    }
    if (dead.length) {
      await client.query('select graphile_worker.force_unlock_workers($1::text[])', [dead]);
      log?.warn({ workers: dead }, 'jobs of workers that are gone were unlocked and will run again');
    }
    return dead;
  } finally {
    client.release();
  }
}

export async function startJobRunner(ctx: AppContext, jobs: readonly JobDefinition[] = JOBS): Promise<JobRunner> {
  const cron = jobs.filter((j) => j.schedule !== undefined);
  // Held for the runner's lifetime: its advisory locks say "these workers are alive".
  const liveness = await ctx.pool.connect();
  const events = new EventEmitter() as NonNullable<Parameters<typeof run>[0]['events']>;
  // One query at a time on the liveness connection.
  let locking: Promise<unknown> = Promise.resolve();
  events.on('worker:create', ({ worker }) => {
    locking = locking
      .then(() => liveness.query(`select pg_advisory_lock(${LIVENESS_SQL_KEY})`, [worker.workerId]))
      .catch((err: Error) => ctx.log.error({ err: err.message, workerId: worker.workerId }, 'could not take the worker liveness lock'));
  });
  await releaseDeadWorkers(ctx.pool, ctx.log);
  const runner: Runner = await run({
    events,
    pgPool: ctx.pool,
    taskList: taskList(ctx, jobs),
    parsedCronItems: parseCronItems(
      cron.map((j) => ({
        task: j.name,
        match: j.schedule!,
        identifier: j.name,
        ...(j.maxAttempts ? { options: { maxAttempts: j.maxAttempts } } : {}),
      })),
    ),
    concurrency: ctx.env.WORKER_CONCURRENCY,
    pollInterval: ctx.env.WORKER_POLL_INTERVAL_MS,
    noHandleSignals: true,
    logger: workerLogger(ctx.log),
  });
  ctx.log.info({ jobs: jobs.length, scheduled: cron.length, concurrency: ctx.env.WORKER_CONCURRENCY }, 'job runner started');
  // One pending copy however many workers start at once (the job key).
  for (const job of jobs) {
    if (job.runOnWorkerStart?.(ctx))
      await enqueue(ctx.pool, job.name, {}, { jobKey: `${job.name}:worker-start`, maxAttempts: job.maxAttempts });
  }
  const sweep = setInterval(() => {
    releaseDeadWorkers(ctx.pool, ctx.log).catch((err: Error) => ctx.log.error({ err: err.message }, 'dead worker sweep failed'));
  }, SWEEP_INTERVAL_MS);
  sweep.unref();
  return {
    // Running jobs finish; jobs not yet taken stay queued for any other worker.
    async stop(graceMs?: number) {
      clearInterval(sweep);
      const stopped = runner.stop();
      if (graceMs !== undefined) {
        let timer: NodeJS.Timeout | undefined;
        const finished = await Promise.race([
          stopped.then(() => true),
          new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), graceMs);
          }),
        ]);
        clearTimeout(timer);
        if (!finished) {
          ctx.log.warn('jobs still running at the end of the grace period: released for another worker to retry');
          await runner.kill('grace period over');
        }
      }
      await stopped.catch(() => undefined);
      await locking;
      // The connection goes back to the pool: it must not keep saying these workers live.
      await liveness.query('select pg_advisory_unlock_all()').catch(() => undefined);
      liveness.release();
    },
  };
}

/** Runs every job that is due now, then returns (tests, `jobs run-due`): no polling, no waiting for a schedule. */
export async function runDueJobs(ctx: AppContext, jobs: readonly JobDefinition[] = JOBS): Promise<void> {
  // Jobs this process has asked to queue (wakeJob) are due now too.
  await wakesSettled(ctx.pool);
  await runOnce({
    pgPool: ctx.pool,
    taskList: taskList(ctx, jobs),
    logger: workerLogger(ctx.log),
    // graphile-worker records a job's success or failure without awaiting it; batched (with no
    // delay), those writes are awaited before runOnce returns, so the caller sees every outcome.
    preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
  });
}
