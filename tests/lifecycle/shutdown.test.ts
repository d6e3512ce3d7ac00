// SIGTERM on the real server process: every request already received is
// answered (201, or 503 when it had not started), what was answered 201 exists
// and nothing else does; a second signal exits at once.
import http from 'node:http';
import { expect, it } from 'vitest';
import { TEST_JWT_SECRET, useTestDb } from '../support/db.ts';
import { freePort } from '../support/global-setup.ts';
import { spawnServer } from '../support/server-process.ts';
import { until } from '../support/wait.ts';

const fx = useTestDb();

function serverEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: fx.db.url,
    JWT_SECRET: TEST_JWT_SECRET,
    TENANT_ROLE_PREFIX: fx.db.rolePrefix,
    BASE_DOMAIN: 'saas.test',
    RATE_LIMIT_ENABLED: 'false',
    ...extra,
  };
}

interface Answer {
  status: number;
  connection: string | undefined;
  at: number;
}

/** POSTs a sign-up; resolves with the answer, or rejects if the connection closed without one. `sent` fires once the body is on the wire. */
function signUp(url: string, slug: string, sent: () => void): Promise<Answer> {
  const body = JSON.stringify({
    name: `Shop ${slug}`,
    slug,
    ownerEmail: `owner@${slug}.example.com`,
    ownerName: 'Owner',
    ownerPassword: 'a long enough password',
    plan: 'free',
  });
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/tenants/create`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, at: Date.now() }));
      },
    );
    req.on('error', reject);
    req.on('finish', sent);
    req.end(body);
  });
}

async function tenantsCreated(prefix: string): Promise<number> {
  const { rows } = await fx.db.pool.query<{ n: number }>('select count(*)::int as n from public.tenants where starts_with(slug, $1)', [
    prefix,
  ]);
  return rows[0]!.n;
}

it('answers all 20 sign-ups in flight at SIGTERM (201 or 503), creates exactly the tenants answered 201, and exits 0', async () => {
  const srv = spawnServer(await freePort(), serverEnv({ SHUTDOWN_GRACE_MS: '170000' }));
  try {
    await srv.waitReady();
    let onWire = 0;
    let allSent!: () => void;
    const sentAll = new Promise<void>((r) => (allSent = r));
    const answers = Array.from({ length: 20 }, (_, i) =>
      signUp(srv.url, `drain-${i}`, () => {
        if (++onWire === 20) allSent();
      }).then(
        (a) => a,
        (err: Error) => err,
      ),
    );
    await sentAll;
    // Sent is not yet read: once the first sign-up has committed, the server has
    // taken in the others too, and they are being worked on when the signal comes.
    await until('a first sign-up committed', async () => (await tenantsCreated('drain-')) > 0, { timeout: 60_000, interval: 10 });
    const signalAt = Date.now();
    srv.child.kill('SIGTERM');
    const results = await Promise.all(answers);
    const exit = await srv.exited;

    const dropped = results.filter((r) => r instanceof Error);
    expect(dropped.map(String)).toEqual([]);
    const ok = results as Answer[];
    expect(ok.map((a) => a.status).filter((s) => s !== 201 && s !== 503)).toEqual([]);
    const created = ok.filter((a) => a.status === 201).length;
    expect(await tenantsCreated('drain-')).toBe(created);
    // Some were still being worked on when the signal came, and were finished, not cut.
    expect(ok.filter((a) => a.status === 201 && a.at > signalAt).length).toBeGreaterThan(0);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(srv.logs.some((l) => l.msg === 'shut down' && l['drained'] === true)).toBe(true);
    expect(srv.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('uncaught'))).toEqual([]);
  } finally {
    srv.child.kill('SIGKILL');
  }
  // The grace period is generous: on a loaded machine 20 sign-ups (argon2 + schema DDL) take a while.
}, 240_000);

it('exits at once on a second signal while a request is still in flight', async () => {
  const srv = spawnServer(await freePort(), serverEnv({ SHUTDOWN_GRACE_MS: '60000', WORKER_ENABLED: 'false', DB_LOCK_TIMEOUT_MS: '0' }));
  const locker = await fx.db.pool.connect();
  try {
    await srv.waitReady();
    // A sign-up that cannot finish: the registry table is locked by this test.
    await locker.query('begin; lock table public.tenants in exclusive mode');
    const pending = signUp(srv.url, 'stuck-one', () => undefined).catch((err: Error) => err);
    await until(
      'the sign-up to wait on the lock',
      async () =>
        (
          await fx.db.pool.query<{ n: number }>(
            `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          )
        ).rows[0]!.n > 0,
      { interval: 50 },
    );
    srv.child.kill('SIGTERM');
    await srv.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'));
    srv.child.kill('SIGTERM');
    const exit = await srv.exited;
    expect(exit).toEqual({ code: 143, signal: null });
    expect(srv.logs.some((l) => l.msg === 'second signal: exiting at once')).toBe(true);
    await pending;
  } finally {
    await locker.query('rollback').catch(() => undefined);
    locker.release();
    srv.child.kill('SIGKILL');
  }
}, 180_000);
