// A broken connection fails the one piece of work that held it — never the
// process — and the connection is discarded; timeouts and the acquisition
// limit answer 503 instead of hanging; health probes.
import { describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { createPool } from '../../actions-server/src/db/database.ts';
import { setTransactionLimits, withTransaction, type Client } from '../../actions-server/src/db/tx.ts';
import { buildContext, startServer } from '../../actions-server/src/server.ts';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';

const fx = useTestServer({
  DB_STATEMENT_TIMEOUT_MS: '300',
  DB_LOCK_TIMEOUT_MS: '250',
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: '20000',
});

const pidOf = async (c: Client) => (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
const terminate = (pid: number) => fx.db.pool.query('select pg_terminate_backend($1)', [pid]);

function signUp(slug: string) {
  return request(fx.srv.url, '/api/tenants/create', {
    body: {
      name: `Shop ${slug}`,
      slug,
      ownerEmail: `owner@${slug}.example.com`,
      ownerName: 'Owner',
      ownerPassword: 'a long enough password',
      plan: 'free',
    },
  });
}

describe('a connection whose backend dies while checked out', () => {
  it('fails only its own transaction, between two queries too, and is destroyed rather than returned', async () => {
    let reported!: () => void;
    const errorEvent = new Promise<void>((resolve) => (reported = resolve));
    // The pool's own listener on every client it connects (no listener is added here).
    const pool = createPool(fx.db.url, 2, 30_000, { onClientError: () => reported() });
    try {
      const failed = await withTransaction(pool, async (c) => {
        await terminate(await pidOf(c));
        // Not querying: pg emits `error` on the idle, checked-out client (this crashed the process before).
        await errorEvent;
        await c.query('select 1');
      }).catch((err: Error) => err);
      expect(failed).toBeInstanceOf(Error);
      expect(pool.totalCount).toBe(0);
      // The pool goes on with a fresh connection.
      expect((await pool.query<{ one: number }>('select 1 as one')).rows[0]!.one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('answers the request that owned it 503 DATABASE_UNAVAILABLE with Retry-After, and the next one succeeds', async () => {
    const locker = await fx.db.pool.connect();
    try {
      // The sign-up's transaction waits on this lock; its backend is then terminated.
      await locker.query('begin; lock table public.tenants in exclusive mode');
      const pending = signUp('cut-off');
      const lockerPid = await pidOf(locker);
      const victim = await vi.waitUntil(
        async () =>
          (
            await fx.db.pool.query<{ pid: number }>(
              `select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> $1`,
              [lockerPid],
            )
          ).rows[0]?.pid,
        { timeout: 30_000, interval: 20 },
      );
      await terminate(victim);
      const res = await pending;
      expect(res.status, res.text).toBe(503);
      expect(res.body).toMatchObject({ error: { code: 'DATABASE_UNAVAILABLE', details: { reason: 'connection_lost' } } });
      expect(res.headers['retry-after']).toBe('1');
    } finally {
      await locker.query('rollback');
      locker.release();
    }
    expect((await fx.db.pool.query('select 1 from public.tenants where slug = $1', ['cut-off'])).rowCount).toBe(0);
    expect((await signUp('after-cut')).status).toBe(201);
  });
});

describe('timeouts and limits', () => {
  it('gives request transactions the configured timeouts, for that transaction only', async () => {
    const settings = await withTransaction(
      fx.db.pool,
      async (c) =>
        (
          await c.query<{ s: string; l: string; i: string }>(
            `select current_setting('statement_timeout') as s, current_setting('lock_timeout') as l, current_setting('idle_in_transaction_session_timeout') as i`,
          )
        ).rows[0]!,
    );
    expect(settings).toEqual({ s: '300ms', l: '250ms', i: '20s' });
    const outside = (await fx.db.pool.query<{ s: string }>(`select current_setting('statement_timeout') as s`)).rows[0]!.s;
    expect(outside).toBe('0');
    const slow = await withTransaction(fx.db.pool, (c) => c.query('select pg_sleep(2)')).catch((e: Error) => e);
    expect((slow as { code?: string }).code).toBe('57014');
    // Maintenance work opts out.
    await withTransaction(fx.db.pool, (c) => c.query('select pg_sleep(0.4)'), { limits: false });
  });

  it('ends a transaction left idle past idle_in_transaction_session_timeout, and its owner gets the error', async () => {
    const pool = createPool(fx.db.url, 1);
    setTransactionLimits(pool, { statementTimeoutMs: 0, lockTimeoutMs: 0, idleInTransactionTimeoutMs: 100 });
    try {
      const err = await withTransaction(pool, async (c) => {
        await new Promise<void>((resolve) => c.once('error', () => resolve()));
        await c.query('select 1');
      }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect(pool.totalCount).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('answers 503 when no connection can be had in time instead of queueing forever', async () => {
    const env = fx.db.env({ DB_POOL_ACQUIRE_TIMEOUT_MS: '200' });
    const pool = createPool(fx.db.url, 1, 30_000, { acquireTimeoutMs: 200 });
    const ctx = await buildContext(env, createLogger('silent'), pool, fx.db.url);
    const small = await startServer(ctx, 0, '127.0.0.1');
    const held = await pool.connect();
    try {
      const res = await request(small.url, '/api/tenants/create', {
        body: {
          name: 'Busy',
          slug: 'busy-pool',
          ownerEmail: 'o@busy.example.com',
          ownerName: 'O',
          ownerPassword: 'a long enough password',
          plan: 'free',
        },
      });
      expect(res.status, res.text).toBe(503);
      expect(res.body).toMatchObject({ error: { code: 'DATABASE_UNAVAILABLE', details: { reason: 'pool_timeout' } } });
      expect(res.headers['retry-after']).toBe('1');
    } finally {
      held.release();
      await small.close();
      await pool.end();
    }
  });

  it('has error listeners for every pooled client (graphile-worker checks for them)', () => {
    const pool = createPool(fx.db.url, 1);
    expect(pool.listeners('error').length).toBeGreaterThan(0);
    expect(pool.listeners('connect').length).toBeGreaterThan(0);
    void pool.end();
  });
});

describe('health probes and draining', () => {
  it('live is 200; ready is 200 once migrated and the database answers, 503 while draining; a drained server refuses new requests with Connection: close', async () => {
    const ctx = fx.srv.ctx;
    expect((await request(fx.srv.url, '/api/health/live')).status).toBe(200);
    const ready = await request(fx.srv.url, '/api/health/ready');
    expect(ready.status, ready.text).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready', database: 'up', migrations: 'applied' });
    ctx.lifecycle!.drain();
    try {
      expect((await request(fx.srv.url, '/api/health/live')).status).toBe(200);
      expect((await request(fx.srv.url, '/api/health/ready')).status).toBe(503);
      const refused = await request(fx.srv.url, '/api/tenants/by-slug?slug=x');
      expect(refused.status).toBe(503);
      expect(refused.headers['connection']).toBe('close');
      expect(refused.headers['retry-after']).toBe('1');
    } finally {
      ctx.lifecycle!.phase = 'serving';
    }
  });

  it('is not ready when the newest migration is missing', async () => {
    const last = (await fx.db.pool.query<{ v: string }>('select max(version)::text as v from public.schema_migrations')).rows[0]!.v;
    await fx.db.pool.query('delete from public.schema_migrations where version = $1', [last]);
    try {
      const res = await request(fx.srv.url, '/api/health/ready');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: { details: { migrations: 'pending' } } });
    } finally {
      await fx.db.pool.query(`insert into public.schema_migrations (version, name) values ($1, 'restored')`, [last]);
    }
  });
});
