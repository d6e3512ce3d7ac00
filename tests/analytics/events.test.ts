// Analytics and connector events: stored for the caller's tenant (from the
// credentials, never the body) under RLS, and forwarded by posthog-node in
// batches with the tenant as the PostHog group, to a local capture server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { asTenant } from '../../actions-server/src/db/tx.ts';

interface Captured {
  path: string;
  body: { api_key?: string; batch?: { event: string; distinct_id: string; properties: Record<string, unknown> }[] };
}

let db: TestDb;
let srv: RunningServer;
let capture: Server;
const captured: Captured[] = [];
let a: MadeTenant;
let b: MadeTenant;

beforeAll(async () => {
  capture = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      captured.push({ path: (req.url ?? '').split('?')[0]!, body: JSON.parse(raw.toString('utf8') || '{}') });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":1}');
    });
  });
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', () => resolve()));
  db = await createTestDb();
  srv = await startTestServer(db, {
    RATE_LIMIT_ENABLED: 'false',
    POSTHOG_API_KEY: 'phc_test_key',
    POSTHOG_HOST: `http://127.0.0.1:${(capture.address() as AddressInfo).port}`,
  });
  a = await makeTenant(db, 'alpha', { plan: 'pro', isolation: 'pooled' });
  b = await makeTenant(db, 'beta', { plan: 'pro', isolation: 'pooled' });
});
afterAll(async () => {
  await srv?.close();
  await db?.close();
  await new Promise<void>((resolve) => capture?.close(() => resolve()));
});

const post = (m: MadeTenant, body: unknown) =>
  request(srv.url, '/api/v1/events', {
    host: `${m.tenant.slug}.saas.test`,
    token: srv.ctx.tokens.sign({ userId: m.ownerId, tenantId: m.tenant.id, role: 'owner' }).token,
    body,
  });

it('stores events for the tenant of the credentials (a tenant_id in the body is ignored) and forwards analytics to PostHog in batches, grouped by tenant', async () => {
  for (let i = 0; i < 3; i++) {
    const res = await post(a, {
      event: 'report.exported',
      distinct_id: `user-${i}`,
      properties: { format: 'csv' },
      tenant_id: b.tenant.id,
    });
    expect(res.status).toBe(201);
  }
  const connector = await post(a, {
    kind: 'connector',
    connector: 'salesforce',
    event: 'sync.finished',
    payload: { records: 12 },
    tenant_id: b.tenant.id,
  });
  expect(connector.status).toBe(201);
  expect((await post(b, { event: 'signed.in' })).status).toBe(201);

  const rows = await db.pool.query(`select tenant_id, event from public.analytics_events order by created_at`);
  expect(rows.rows.map((r) => [r.tenant_id, r.event])).toEqual([
    [a.tenant.id, 'report.exported'],
    [a.tenant.id, 'report.exported'],
    [a.tenant.id, 'report.exported'],
    [b.tenant.id, 'signed.in'],
  ]);
  expect((await db.pool.query(`select tenant_id, connector, payload from public.connector_events`)).rows).toEqual([
    { tenant_id: a.tenant.id, connector: 'salesforce', payload: { records: 12 } },
  ]);
  // RLS: b sees only its own rows.
  const seenByB = await asTenant(db.pool, { tenantId: b.tenant.id, dbRole: 'app' }, (c) =>
    c.query('select tenant_id from public.analytics_events'),
  );
  expect(seenByB.rows.map((r) => r.tenant_id)).toEqual([b.tenant.id]);

  await srv.ctx.analytics.flush();
  const batches = captured.filter((c) => c.path.startsWith('/batch'));
  // Batched: fewer requests than events.
  expect(batches.length).toBeLessThan(6);
  const events = batches.flatMap((c) => c.body.batch ?? []);
  expect(batches.every((c) => c.body.api_key === 'phc_test_key')).toBe(true);
  const exported = events.filter((e) => e.event === 'report.exported');
  expect(exported).toHaveLength(3);
  expect(exported.every((e) => (e.properties['$groups'] as Record<string, string>)['tenant'] === a.tenant.id)).toBe(true);
  expect(events.find((e) => e.event === 'signed.in')!.properties['$groups']).toEqual({ tenant: b.tenant.id });
  expect(events.find((e) => e.event === 'signed.in')!.distinct_id).toBe(b.ownerId);
  expect(
    events
      .filter((e) => e.event === '$groupidentify')
      .map((e) => e.properties['$group_key'] as string)
      .sort(),
  ).toEqual([a.tenant.id, b.tenant.id].sort());
  expect(events.some((e) => e.event === 'sync.finished')).toBe(false);
});

it('refuses bad input and anonymous callers', async () => {
  expect((await post(a, { event: '' })).status).toBe(400);
  expect((await post(a, { kind: 'connector', event: 'x' })).status).toBe(400);
  expect((await request(srv.url, '/api/v1/events', { host: 'alpha.saas.test', body: { event: 'x' } })).status).toBe(401);
});
