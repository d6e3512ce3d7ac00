// The job runner: graphile-worker over the main pool, the registry's jobs as
// its task list and their schedules as cron items. graphile-worker records each
// cron slot it has run (known_crontabs) and takes jobs with SKIP LOCKED, so any
// number of processes may run it and each slot still runs once.
import { parseCronItems, run, runMigrations, runOnce, Logger as WorkerLogger, type JobHelpers, type Runner, type TaskList } from 'graphile-worker';
import type { AppContext } from '../core/context.ts';
import type { Logger } from '../core/log.ts';
import type { Pool } from '../db/tx.ts';
import { JOBS } from './registry.ts';
import { enqueue } from './queue.ts';
import type { JobDefinition } from './types.ts';

/** Installs or upgrades graphile-worker's own schema (`graphile_worker`); safe to run again. */
export async function installJobQueue(pool: Pool, log?: Logger): Promise<void> {
  await runMigrations({ pgPool: pool, logger: workerLogger(log) });
}

function workerLogger(log: Logger | undefined): WorkerLogger {
  return new WorkerLogger(() => (level, message, meta) => {
    if (!log) return;
    const fn = level === 'error' ? log.error : level === 'warning' ? log.warn : level === 'info' ? log.info : log.debug;
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
  stop(): Promise<void>;
}

export async function startJobRunner(ctx: AppContext, jobs: readonly JobDefinition[] = JOBS): Promise<JobRunner> {
  const cron = jobs.filter((j) => j.schedule !== undefined);
  const runner: Runner = await run({
    pgPool: ctx.pool,
    taskList: taskList(ctx, jobs),
    parsedCronItems: parseCronItems(
      cron.map((j) => ({ task: j.name, match: j.schedule!, identifier: j.name, ...(j.maxAttempts ? { options: { maxAttempts: j.maxAttempts } } : {}) })),
    ),
    concurrency: ctx.env.WORKER_CONCURRENCY,
    pollInterval: ctx.env.WORKER_POLL_INTERVAL_MS,
    noHandleSignals: true,
    logger: workerLogger(ctx.log),
  });
  ctx.log.info({ jobs: jobs.length, scheduled: cron.length, concurrency: ctx.env.WORKER_CONCURRENCY }, 'job runner started');
  // One pending copy however many workers start at once (the job key).
  for (const job of jobs) {
    if (job.runOnWorkerStart?.(ctx)) await enqueue(ctx.pool, job.name, {}, { jobKey: `${job.name}:worker-start`, maxAttempts: job.maxAttempts });
  }
  return {
    // Running jobs finish; jobs not yet taken stay queued for any other worker.
    stop: () => runner.stop(),
  };
}

/** Runs every job that is due now, then returns (tests, `jobs run-due`): no polling, no waiting for a schedule. */
export async function runDueJobs(ctx: AppContext, jobs: readonly JobDefinition[] = JOBS): Promise<void> {
  await runOnce({ pgPool: ctx.pool, taskList: taskList(ctx, jobs), logger: workerLogger(ctx.log) });
}
