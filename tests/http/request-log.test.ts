// Request logs: one line per request with id, tenant, route, status and
// duration; never a password or a token, even for sign-up and login.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDb, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { buildContext, startServer, type RunningServer } from '../../actions-server/src/server.ts';

let db: TestDb;
let server: RunningServer;
const lines: Record<string, unknown>[] = [];
let raw = '';

beforeAll(async () => {
  db = await createTestDb();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const env = db.env();
  server = await startServer(await buildContext(env, createLogger('info', sink), db.pool, db.url), 0, '127.0.0.1');
});
afterAll(async () => {
  await server?.close();
  await db?.close();
});

test('sign-up and login are logged with request id, tenant, route, status and duration, never the password or the token', async () => {
  const password = 'a-very-distinctive-password-42';
  const created = await request<{ token: string }>(server.url, '/api/tenants/create', {
    method: 'POST',
    body: { name: 'Logs', slug: 'logs', ownerEmail: 'owner@logs.example.com', ownerName: 'Owner', ownerPassword: password, plan: 'free' },
  });
  expect(created.status).toBe(201);
  const login = await request<{ token: string }>(server.url, '/api/auth/login', {
    method: 'POST',
    host: 'logs.saas.test',
    body: { email: 'owner@logs.example.com', password },
  });
  expect(login.status).toBe(200);
  const me = await request(server.url, '/api/health', { host: 'logs.saas.test', token: login.body.token });
  expect(me.status).toBe(200);

  expect(raw).not.toContain(password);
  expect(raw).not.toContain(created.body.token);
  expect(raw).not.toContain(login.body.token);
  const loginLine = lines.find((l) => (l['req'] as { path?: string } | undefined)?.path === '/api/auth/login');
  expect(loginLine).toMatchObject({ tenant: 'logs', route: '/api/auth/login', res: { status: 200 } });
  expect(loginLine?.['requestId']).toEqual(login.headers['x-request-id']);
  expect(typeof loginLine?.['ms']).toBe('number');
});

test('a refused request is logged once, as one info line with its error code', async () => {
  const before = lines.length;
  const refused = await request(server.url, '/api/tenants/00000000-0000-0000-0000-000000000000', { host: 'logs.saas.test' });
  expect(refused.status).toBe(401);
  const mine = lines.slice(before).filter((l) => l['requestId'] === refused.headers['x-request-id']);
  expect(mine).toHaveLength(1);
  expect(mine[0]).toMatchObject({ level: 30, code: 'UNAUTHENTICATED', res: { status: 401 } });
});
