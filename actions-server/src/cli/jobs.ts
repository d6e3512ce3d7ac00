// `jobs ...`: the job queue as operators see it, and retrying or discarding a failed job.
import type { Command } from 'commander';
import { discardJob, JOB_ID_RE, listJobs, retryJob } from '../jobs/admin.ts';
import { printJson, UsageError, withRuntime } from './runtime.ts';

export function register(program: Command): void {
  const jobs = program.command('jobs').description('background jobs: list the queue, retry or discard a failed job');

  jobs
    .command('list')
    .description('jobs waiting, running, retrying or failed (oldest first)')
    .option('--failed', 'only jobs whose last attempt failed')
    .option('--json', 'print JSON instead of a table')
    .action((opts: { failed?: boolean; json?: boolean }) =>
      withRuntime(async ({ db }) => {
        const rows = await listJobs(db.pool, { failed: opts.failed ?? false });
        if (opts.json) printJson(rows);
        else if (rows.length === 0) console.log(opts.failed ? 'no failed jobs' : 'no jobs');
        else console.table(rows);
      }),
    );

  const jobId = (id: string): string => {
    if (!JOB_ID_RE.test(id)) throw new UsageError(`job id must be a number, got "${id.slice(0, 40)}"`);
    return id;
  };

  // One job by id: act on it, or say why nothing was done.
  const byId = [
    {
      name: 'retry',
      description: 'run a job again now, with a fresh set of attempts',
      act: retryJob,
      done: 'queued to run now',
      verb: 'retry',
    },
    {
      name: 'discard',
      description: 'drop a job without running it (a failed job nobody needs any more)',
      act: discardJob,
      done: 'discarded',
      verb: 'discard',
    },
  ];
  for (const c of byId) {
    jobs
      .command(c.name)
      .description(c.description)
      .argument('<id>', 'job id (from jobs list)', jobId)
      .action((id: string) =>
        withRuntime(async ({ db }) => {
          if (!(await c.act(db.pool, id))) throw new UsageError(`no job ${id} to ${c.verb} (unknown, finished or running)`);
          console.log(`job ${id} ${c.done}`);
        }),
      );
  }
}
