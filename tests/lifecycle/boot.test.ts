// The server starts before PostgreSQL does: it retries with backoff (saying
// so), answers live (200) and ready (503) meanwhile, and is ready once the
// database is reachable and migrated.
import net from 'node:net';
import { expect, it } from 'vitest';
import { TEST_JWT_SECRET, useTestDb } from '../support/db.ts';
import { freePort } from '../support/global-setup.ts';
import { request } from '../support/http.ts';
import { spawnServer } from '../support/server-process.ts';

const fx = useTestDb();

/** A TCP forwarder to the real PostgreSQL, started only when asked: until then its port refuses connections. */
function lateProxy(port: number, target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  return {
    start: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve())),
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

it('waits for PostgreSQL with bounded retries, live meanwhile and ready only after it is reachable and migrated', async () => {
  const pgPort = await freePort();
  const target = new URL(fx.db.url);
  const proxyUrl = new URL(fx.db.url);
  proxyUrl.hostname = '127.0.0.1';
  proxyUrl.port = String(pgPort);
  const proxy = lateProxy(pgPort, target);
  const srv = spawnServer(await freePort(), {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: proxyUrl.toString(),
    JWT_SECRET: TEST_JWT_SECRET,
    TENANT_ROLE_PREFIX: fx.db.rolePrefix,
    BASE_DOMAIN: 'saas.test',
    WORKER_ENABLED: 'false',
    DB_BOOT_ATTEMPTS: '1000',
    DB_BOOT_MAX_DELAY_MS: '300',
  });
  try {
    const waiting = await srv.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('PostgreSQL is not reachable yet'), 60_000);
    expect(waiting).toMatchObject({ attempt: expect.any(Number), retryInMs: expect.any(Number) });
    expect((await request(srv.url, '/api/health/live')).status).toBe(200);
    const notReady = await request(srv.url, '/api/health/ready');
    expect(notReady.status).toBe(503);
    expect(notReady.body).toMatchObject({ error: { details: { phase: 'starting' } } });
    expect((await request(srv.url, '/api/tenants/by-slug?slug=x')).status).toBe(503);
    await proxy.start();
    await srv.waitReady(90_000);
    expect(srv.logs.some((l) => typeof l.msg === 'string' && l.msg.includes('PostgreSQL is reachable'))).toBe(true);
    srv.child.kill('SIGTERM');
    expect(await srv.exited).toEqual({ code: 0, signal: null });
  } finally {
    srv.child.kill('SIGKILL');
    await proxy.stop();
  }
}, 180_000);

it('gives up after DB_BOOT_ATTEMPTS and exits non-zero, naming the cause', async () => {
  const url = new URL(fx.db.url);
  url.hostname = '127.0.0.1';
  url.port = String(await freePort());
  const srv = spawnServer(await freePort(), {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: url.toString(),
    JWT_SECRET: TEST_JWT_SECRET,
    DB_BOOT_ATTEMPTS: '2',
    DB_BOOT_MAX_DELAY_MS: '100',
  });
  try {
    const exit = await srv.exited;
    expect(exit.code).toBe(1);
    expect(srv.logs.some((l) => l.msg === 'boot failed' && JSON.stringify(l).includes('unreachable after 2 attempts'))).toBe(true);
  } finally {
    srv.child.kill('SIGKILL');
  }
}, 120_000);
