// The job queue over REST for platform administrators (GET /api/jobs, retry,
// discard) and the CLI's discard: a job that failed keeps its last error, a
// retry runs it again with fresh attempts, a discard drops it unrun.
import { beforeAll, expect, test } from 'vitest';
import { z } from 'zod';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { runCli } from '../support/cli.ts';
import { makePlatformAdmin, makeTenant, OWNER_PASSWORD } from '../support/factories.ts';
import { enqueue } from '../../actions-server/src/jobs/queue.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { defineJob } from '../../actions-server/src/jobs/types.ts';

let adminToken: string;
let ownerToken: string;
let healthy = false;
const ran: string[] = [];
const flaky = defineJob({
  name: 'test.flaky',
  payload: z.object({ value: z.string() }),
  run: ({ value }) => {
    if (!healthy) return Promise.reject(new Error(`downstream refused ${value}\n    at a stack line`));
    ran.push(value);
    return Promise.resolve();
  },
});

async function login(host: string, email: string, password: string): Promise<string> {
  const res = await request(fx.srv.url, '/api/auth/login', { host, body: { email, password } });
  expect(res.status, res.text).toBe(200);
  return res.body.token;
}
const asAdmin = (path: string, method = 'GET') => request(fx.srv.url, path, { host: 'saas.test', token: adminToken, method });

const fx = useTestServer();
beforeAll(async () => {
  const ops = await makePlatformAdmin(fx.db);
  adminToken = await login('saas.test', ops.email, ops.password);
  const acme = await makeTenant(fx.db, 'jobsco', { isolation: 'pooled' });
  ownerToken = await login('jobsco.saas.test', acme.ownerEmail, OWNER_PASSWORD);
});

test('failed jobs are listed with their first error line; retry runs one again, discard drops one; others are refused', async () => {
  const retried = await enqueue(fx.db.pool, 'test.flaky', { value: 'retried' }, { maxAttempts: 1 });
  const dropped = await enqueue(fx.db.pool, 'test.flaky', { value: 'dropped' }, { maxAttempts: 1 });
  const waiting = await enqueue(fx.db.pool, 'test.flaky', { value: 'later' }, { runAt: new Date(Date.now() + 3_600_000) });
  await runDueJobs(fx.srv.ctx, [flaky]);

  const failed = await asAdmin('/api/jobs?failed=true');
  expect(failed.status, failed.text).toBe(200);
  expect(failed.body.jobs).toEqual([
    expect.objectContaining({
      id: retried,
      task: 'test.flaky',
      state: 'failed',
      attempts: 1,
      maxAttempts: 1,
      lastError: 'downstream refused retried',
    }),
    expect.objectContaining({ id: dropped, state: 'failed', lastError: 'downstream refused dropped' }),
  ]);
  const all = await asAdmin('/api/jobs?limit=10');
  expect(all.body.jobs.map((j: { id: string }) => j.id)).toEqual([retried, dropped, waiting]);
  expect(all.body.jobs[2]).toMatchObject({ state: 'waiting', lastError: null });

  healthy = true;
  const retry = await asAdmin(`/api/jobs/${retried}/retry`, 'POST');
  expect(retry.status, retry.text).toBe(200);
  expect(retry.body.job).toMatchObject({ id: retried, attempts: 0, state: 'retrying' });
  const discard = await asAdmin(`/api/jobs/${dropped}`, 'DELETE');
  expect(discard.status, discard.text).toBe(204);
  await runDueJobs(fx.srv.ctx, [flaky]);
  expect(ran).toEqual(['retried']);
  expect((await asAdmin('/api/jobs?failed=true')).body.jobs).toEqual([]);

  // Gone now: nothing to retry or discard.
  expect((await asAdmin(`/api/jobs/${retried}/retry`, 'POST')).body.error).toMatchObject({
    code: 'NOT_FOUND',
    details: { jobId: retried },
  });
  expect((await asAdmin(`/api/jobs/${dropped}`, 'DELETE')).status).toBe(404);
  expect((await asAdmin('/api/jobs/abc/retry', 'POST')).status).toBe(404);
  expect((await asAdmin('/api/jobs?failed=maybe')).status).toBe(400);
  expect((await asAdmin('/api/jobs?limit=0')).status).toBe(400);

  const owner = await request(fx.srv.url, '/api/jobs', { host: 'jobsco.saas.test', token: ownerToken });
  expect(owner.status).toBe(403);
  expect((await request(fx.srv.url, `/api/jobs/${waiting}`, { host: 'saas.test', method: 'DELETE' })).status).toBe(401);

  // The CLI drops a job the same way.
  const cli = await runCli(fx.db, ['jobs', 'discard', waiting]);
  expect(cli.code, cli.stderr).toBe(0);
  expect((await asAdmin('/api/jobs')).body.jobs).toEqual([]);
  expect((await runCli(fx.db, ['jobs', 'discard', waiting])).code).toBe(2);
});
