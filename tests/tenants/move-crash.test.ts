// A move is crash-safe: `npm run cli -- tenants move` SIGKILLed while it copies,
// again while the tenant is frozen, and again after the switch, then rerun,
// ends exactly where an uninterrupted move ends. At every moment the tenant is
// served from the one placement its registry row names. Each kill lands at a
// known step: the test holds a lock that step needs and waits until the CLI
// is blocked on it (seen in pg_stat_activity), so no timing decides.
import { spawn } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { toAppError } from '../../actions-server/src/core/errors.ts';
import type { Client } from '../../actions-server/src/db/tx.ts';
import type { TenantRow } from '../../actions-server/src/tenants/records.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';
import { until } from '../support/wait.ts';

const APP = 'move_cli_crash';
const SEEDED = 10_000;
let made: MadeTenant;

const fx = useTestDb();
beforeAll(async () => {
  made = await makeTenant(fx.db, 'crashy', { isolation: 'pooled', plan: 'pro' });
  await data(async (c) => {
    const ch = (await c.query<{ id: string }>(`insert into channels (name) values ('general') returning id`)).rows[0]!.id;
    await c.query(`insert into messages (channel_id, body) select $1, 'seed ' || g from generate_series(1, ${SEEDED}) g`, [ch]);
    await c.query(`insert into files (channel_id, name, size_bytes) values ($1, 'report.pdf', 123456)`, [ch]);
  });
});

/** The moves here run in a child process (the CLI): their steps get a minute. */
const untilStep = (what: string, cond: () => Promise<boolean>) => until(what, cond, { timeout: 60_000 });

async function registry(): Promise<TenantRow> {
  return (await fx.db.pool.query<TenantRow>('select * from public.tenants where id = $1', [made.tenant.id])).rows[0]!;
}

/** The tenant's data where its registry row says it is (as a request resolving it afresh would). */
async function data<T>(fn: (c: Client) => Promise<T>): Promise<T> {
  return withTenantData(fx.db, tenantPlacementOf(await registry()), made.ownerId, fn);
}

const moveState = async () =>
  (
    await fx.db.pool.query<{ state: string }>('select state from public.tenant_moves where tenant_id = $1 and finished_at is null', [
      made.tenant.id,
    ])
  ).rows[0]?.state;

/** The CLI's own backends waiting for a lock (its DATABASE_URL names the application). */
const cliBlocked = async () =>
  (await fx.db.pool.query(`select 1 from pg_stat_activity where application_name = $1 and wait_event_type = 'Lock'`, [APP])).rowCount! > 0;

/** What PostgreSQL does once it notices the killed client's connections are gone. */
async function reapCli(): Promise<void> {
  await fx.db.pool.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [APP]);
  await untilStep(
    'the killed CLI backends to go',
    async () => (await fx.db.pool.query('select 1 from pg_stat_activity where application_name = $1', [APP])).rowCount === 0,
  );
}

function runCli(args: string[]): { done: Promise<number>; kill: () => void; output: () => string } {
  const url = new URL(fx.db.url);
  url.searchParams.set('application_name', APP);
  const child = spawn(process.execPath, ['--import', 'tsx', 'actions-server/src/cli/main.ts', ...args], {
    env: {
      ...process.env,
      DATABASE_URL: url.toString(),
      TENANT_ROLE_PREFIX: fx.db.rolePrefix,
      LOG_LEVEL: 'error',
      DB_POOL_MAX: '5',
      NODE_ENV: 'test',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? -1 : 0))));
  return { done, kill: () => child.kill('SIGKILL'), output: () => out };
}

/** Rows and an order-independent checksum of the tenant's messages, wherever they are. */
const fingerprint = () =>
  data(
    async (c) =>
      (
        await c.query<{ n: number; sum: string }>(
          `select count(*)::int as n, coalesce(sum(('x' || left(md5(id::text || body), 16))::bit(64)::bigint::numeric), 0)::text as sum from messages`,
        )
      ).rows[0]!,
  );

async function holdInTransaction(sql: string, params: unknown[] = []): Promise<() => Promise<void>> {
  const c = await fx.db.pool.connect();
  await c.query('begin');
  await c.query(sql, params);
  return async () => {
    await c.query('rollback');
    c.release();
  };
}

describe('npm run cli -- tenants move, killed and rerun', () => {
  it('SIGKILLed while copying, while frozen and after the switch, the rerun finishes the move with every row', async () => {
    const args = ['tenants', 'move', 'crashy', '--to', 'schema'];
    const expected = new Map<string, string>();
    const write = async (body: string) => {
      const id = await data(
        async (c) =>
          (await c.query<{ id: string }>(`insert into messages (channel_id, body) select id, $1 from channels returning id`, [body]))
            .rows[0]!.id,
      );
      expected.set(id, body);
    };

    // 1. Killed in the copy: the snapshot copy waits for our lock on the source table.
    const release1 = await holdInTransaction('lock table pooled.messages in access exclusive mode');
    const first = runCli(args);
    await untilStep('the copy step, blocked', async () => (await moveState()) === 'copying' && (await cliBlocked()));
    first.kill();
    expect(await first.done).toBe(-1);
    await release1();
    await reapCli();
    // Still served from pooled, writable (the guard records the change for the next run).
    expect(await registry()).toMatchObject({ isolation: 'pooled', status: 'active' });
    await write('between runs 1 and 2');

    // 2. Killed while frozen: the freeze is committed, then the step waits for a writer that holds the tenant's lock.
    const release2 = await holdInTransaction('select pg_advisory_xact_lock_shared(1297045061, hashtext($1))', [made.tenant.id]);
    const second = runCli(args);
    await untilStep(
      'the freeze, blocked on a writer',
      async () => (await moveState()) === 'freezing' && (await registry()).status === 'migrating' && (await cliBlocked()),
    );
    second.kill();
    expect(await second.done).toBe(-1);
    await release2();
    await reapCli();
    // A move killed while frozen leaves the tenant frozen until it is rerun: reads served, writes 503 + Retry-After.
    expect(await registry()).toMatchObject({ isolation: 'pooled', status: 'migrating' });
    expect((await fingerprint()).n).toBe(SEEDED + 1);
    const refused = await write('while frozen').catch((err: unknown) => toAppError(err));
    expect(refused).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503, headers: { 'Retry-After': '1' } });

    // 3. Killed after the switch, while the old copy is kept for late readers (a long --drain-ms).
    const third = runCli([...args, '--drain-ms', '600000']);
    await untilStep('the cleaning step', async () => (await moveState()) === 'cleaning');
    third.kill();
    expect(await third.done).toBe(-1);
    await reapCli();
    // The registry names the schema now; the old pooled copy is still there but takes no writes.
    expect(await registry()).toMatchObject({ isolation: 'schema', status: 'active', schema_name: 'tenant_crashy' });
    expect((await fx.db.pool.query('select 1 from pooled.messages where tenant_id = $1 limit 1', [made.tenant.id])).rowCount).toBe(1);
    const stale = await withTenantData(
      fx.db,
      tenantPlacementOf({ ...(await registry()), isolation: 'pooled', schema_name: null, db_role: null }),
      made.ownerId,
      (c) => c.query(`insert into messages (channel_id, body) select channel_id, 'stale' from messages limit 1`),
    ).catch((err: unknown) => toAppError(err));
    expect(stale).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503 });
    await write('after the switch');

    // 4. Rerun: finishes.
    const fourth = runCli([...args, '--drain-ms', '0']);
    expect(await fourth.done, fourth.output()).toBe(0);
    expect(fourth.output()).toMatch(/crashy: resuming its move to schema at cleaning/);
    const moves = (
      await fx.db.pool.query('select state, verification is not null as verified from public.tenant_moves where tenant_id = $1', [
        made.tenant.id,
      ])
    ).rows;
    expect(moves).toEqual([{ state: 'done', verified: true }]);

    // Every row once: the seeds, the file, the writes between runs.
    const after = await data(async (c) => ({
      seeds: (await c.query<{ n: number }>(`select count(distinct body)::int as n from messages where body like 'seed %'`)).rows[0]!.n,
      live: new Map(
        (await c.query<{ id: string; body: string }>(`select id, body from messages where body not like 'seed %'`)).rows.map((r) => [
          r.id,
          r.body,
        ]),
      ),
      files: (await c.query('select name, size_bytes::int from files')).rows,
    }));
    expect(after.seeds).toBe(SEEDED);
    expect(after.live).toEqual(expected);
    expect(after.files).toEqual([{ name: 'report.pdf', size_bytes: 123456 }]);
    expect((await fingerprint()).n).toBe(SEEDED + expected.size);
    expect(
      (await fx.db.pool.query('select count(*)::int as n from pooled.messages where tenant_id = $1', [made.tenant.id])).rows[0].n,
    ).toBe(0);

    // Counters describe the data once, as before the move.
    const usage = (
      await fx.db.pool.query(
        `select users_total::int, channels_total::int, storage_bytes::int, files_count::int, messages_total::int
           from public.tenant_usage where tenant_id = $1 and period = to_char(now() at time zone 'UTC', 'YYYY-MM')`,
        [made.tenant.id],
      )
    ).rows[0];
    expect(usage).toEqual({
      users_total: 1,
      channels_total: 1,
      storage_bytes: 123456,
      files_count: 1,
      messages_total: SEEDED + expected.size,
    });
    const limits = (
      await fx.db.pool.query(
        `select resource, usage::int from public.check_tenant_limits($1) where resource in ('users', 'storage_bytes')`,
        [made.tenant.id],
      )
    ).rows;
    expect(limits).toEqual([
      { resource: 'users', usage: 1 },
      { resource: 'storage_bytes', usage: 123456 },
    ]);
    // Four CLI processes, three of them killed mid-move: minutes on a loaded two-core machine.
  }, 180_000);
});
