// A worker killed with SIGKILL in the middle of a job: the job runs again and
// its effect is applied once. The job ends two trials, one transaction per
// tenant; the test holds the second tenant's row lock so the worker is stuck
// inside the job after committing the first, then kills it.
import { spawn, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { makeTenant } from '../support/factories.ts';
import { enqueue } from '../../actions-server/src/jobs/queue.ts';
import { releaseDeadWorkers, runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { JOBS } from '../../actions-server/src/jobs/registry.ts';

let worker: ChildProcess | undefined;

const fx = useTestServer();
afterAll(() => {
  worker?.kill('SIGKILL');
});

const planChanges = async (tenantId: string) =>
  Number(
    (
      await fx.db.pool.query(`select count(*) from public.tenant_audit_logs where tenant_id = $1 and action = 'tenant.plan_changed'`, [
        tenantId,
      ])
    ).rows[0].count,
  );

it('runs a job again after its worker is SIGKILLed mid-job, and applies its effect once', { timeout: 180_000 }, async () => {
  const first = await makeTenant(fx.db, 'first-trial', { plan: 'pro', trial: true });
  const second = await makeTenant(fx.db, 'second-trial', { plan: 'pro', trial: true });
  await fx.db.pool.query(`update public.tenants set trial_ends_at = now() - interval '2 hours' where id = $1`, [first.tenant.id]);
  await fx.db.pool.query(`update public.tenants set trial_ends_at = now() - interval '1 hour' where id = $1`, [second.tenant.id]);

  const blocker = new pg.Client({ connectionString: fx.db.url });
  await blocker.connect();
  try {
    await blocker.query('begin');
    await blocker.query('select 1 from public.tenants where id = $1 for update', [second.tenant.id]);
    const jobId = await enqueue(fx.db.pool, 'billing.end-trials', { now: new Date().toISOString() });

    worker = spawn(process.execPath, ['--import', 'tsx', 'actions-server/src/worker.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: fx.db.url,
        TENANT_ROLE_PREFIX: fx.db.rolePrefix,
        JWT_SECRET: 'worker-test-secret-that-is-long-enough-0123',
        LOG_LEVEL: 'error',
        WORKER_POLL_INTERVAL_MS: '200',
        STRIPE_SECRET_KEY: '',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // The worker ended the first trial and now waits on the second tenant's row, inside the job.
    await expect
      .poll(
        async () =>
          (
            await fx.db.pool.query(
              `select count(*)::int as n from pg_stat_activity where datname = $1 and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
              [fx.db.name],
            )
          ).rows[0].n,
        { timeout: 120_000, interval: 250 },
      )
      .toBeGreaterThanOrEqual(1);
    expect(await planChanges(first.tenant.id)).toBe(1);
    const locked = (await fx.db.pool.query('select locked_by from graphile_worker.jobs where id = $1', [jobId])).rows[0];
    expect(locked?.locked_by).toBeTruthy();

    worker.kill('SIGKILL');
    await new Promise((resolve) => worker!.once('exit', resolve));
    worker = undefined;
    await blocker.query('rollback');

    // The dead worker's lock is still on the job; a live runner's sweep finds it gone (its advisory lock
    // went with its connection) once the lock is older than the sweep's grace period.
    await fx.db.pool.query(`update graphile_worker._private_jobs set locked_at = locked_at - interval '1 minute' where id = $1`, [jobId]);
    expect(await releaseDeadWorkers(fx.db.pool)).toContain(locked.locked_by);
    await runDueJobs(fx.srv.ctx, JOBS);

    expect((await fx.db.pool.query('select 1 from graphile_worker.jobs where id = $1', [jobId])).rowCount).toBe(0);
    for (const t of [first, second]) {
      expect((await fx.db.pool.query('select status, plan from public.tenants where id = $1', [t.tenant.id])).rows[0]).toEqual({
        status: 'active',
        plan: 'free',
      });
      expect(await planChanges(t.tenant.id)).toBe(1);
    }
  } finally {
    await blocker.end();
  }
});

it('never unlocks the jobs of a worker that is alive', async () => {
  // A live worker's advisory lock (here this test's connection) keeps its jobs locked.
  const id = await enqueue(fx.db.pool, 'billing.end-trials', {});
  const holder = new pg.Client({ connectionString: fx.db.url });
  await holder.connect();
  try {
    await holder.query(`select pg_advisory_lock(hashtextextended('graphile-worker:' || $1, 0))`, ['live-worker']);
    await fx.db.pool.query(
      `update graphile_worker._private_jobs set locked_by = 'live-worker', locked_at = now() - interval '1 hour' where id = $1`,
      [id],
    );
    expect(await releaseDeadWorkers(fx.db.pool)).toEqual([]);
    expect((await fx.db.pool.query('select locked_by from graphile_worker.jobs where id = $1', [id])).rows[0].locked_by).toBe(
      'live-worker',
    );
  } finally {
    await holder.end();
  }
  expect(await releaseDeadWorkers(fx.db.pool)).toEqual(['live-worker']);
});
