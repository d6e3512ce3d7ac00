// The job runner on a real database: jobs enqueued in a transaction exist only
// if it commits, and runDueJobs runs what is due without waiting on a schedule.
import { expect, test } from 'vitest';
import { z } from 'zod';
import { useTestServer } from '../support/db.ts';
import { enqueue } from '../../actions-server/src/jobs/queue.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { defineJob } from '../../actions-server/src/jobs/types.ts';

const seen: string[] = [];
const record = defineJob({
  name: 'test.record',
  payload: z.object({ value: z.string() }),
  run: ({ value }) => {
    seen.push(value);
    return Promise.resolve();
  },
});

const fx = useTestServer();

test('a job enqueued in a rolled-back transaction never runs; a committed one runs once', async () => {
  const client = await fx.db.pool.connect();
  try {
    await client.query('begin');
    await enqueue(client, 'test.record', { value: 'rolled-back' });
    await client.query('rollback');
    await client.query('begin');
    await enqueue(client, 'test.record', { value: 'committed' });
    await client.query('commit');
  } finally {
    client.release();
  }
  await runDueJobs(fx.srv.ctx, [record]);
  await runDueJobs(fx.srv.ctx, [record]);
  expect(seen).toEqual(['committed']);
});

test('a job key keeps one pending job', async () => {
  seen.length = 0;
  await enqueue(fx.db.pool, 'test.record', { value: 'first' }, { jobKey: 'k' });
  await enqueue(fx.db.pool, 'test.record', { value: 'second' }, { jobKey: 'k' });
  await runDueJobs(fx.srv.ctx, [record]);
  expect(seen).toEqual(['second']);
});
