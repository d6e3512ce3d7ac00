// The job runner: graphile-worker over the main pool, the registry's jobs as
// its task list and their schedules as cron items. graphile-worker records each
// cron slot it has run (known_crontabs) and takes jobs with SKIP LOCKED, so any
// number of processes may run it and each slot still runs once.
import { parseCronItems, run, runMigrations, runOnce, Logger as WorkerLogger, type JobHelpers, type Runner, type TaskList } from 'graphile-worker';
import type { AppContext } from '../core/context.ts';
import type { Logger } from '../core/log.ts';
import type { Pool } from '../db/tx.ts';
import { JOBS } from './registry.ts';
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
  /**
   * Takes no new jobs; running ones finish. With `graceMs`, jobs still running
   * after it are failed back to the queue (graphile-worker's forceful stop) so
   * another worker retries them instead of waiting for their lock to expire.
   */
  stop(graceMs?: number): Promise<void>;
}

export async function startJobRunner(ctx: AppContext, jobs: readonly JobDefinition[] = JOBS): Promise<JobRunner> {
  const cron = jobs.filter((j) => j.schedule !== undefined);
  const runner: Runner = await run({
    pgPool: ctx.pool,
    taskList: taskList(ctx, jobs),
    parsedCronItems: parseCronItems(cron.map((j) => ({ task: j.name, match: j.schedule!, identifier: j.name }))),
    concurrency: ctx.env.WORKER_CONCURRENCY,
    pollInterval: ctx.env.WORKER_POLL_INTERVAL_MS,
    noHandleSignals: true,
    logger: workerLogger(ctx.log),
  });
  ctx.log.info({ jobs: jobs.length, scheduled: cron.length, concurrency: ctx.env.WORKER_CONCURRENCY }, 'job runner started');
  return {
    // Running jobs finish; jobs not yet taken stay queued for any other worker.
    async stop(graceMs?: number) {
      const stopped = runner.stop();
      if (graceMs === undefined) return stopped;
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        stopped.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (finished) return;
      ctx.log.warn('jobs still running at the end of the grace period: released for another worker to retry');
      await runner.kill('grace period over');
      await stopped.catch(() => undefined);
    },
  };
}

/** Runs every job that is due now, then returns (tests, `jobs run-due`): no polling, no waiting for a schedule. */
export async function runDueJobs(ctx: AppContext, jobs: readonly JobDefinition[] = JOBS): Promise<void> {
  await runOnce({ pgPool: ctx.pool, taskList: taskList(ctx, jobs), logger: workerLogger(ctx.log) });
}
