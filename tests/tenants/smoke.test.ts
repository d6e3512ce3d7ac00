import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';

let db: TestDb;
let srv: RunningServer;
beforeAll(async () => {
  db = await createTestDb();
  srv = await startTestServer(db);
});
afterAll(async () => {
  await srv?.close();
  await db?.close();
});

it('creates a tenant and reports it on its host', async () => {
  const res = await request(srv.url, '/api/tenants/create', {
    body: { name: 'Acme', slug: 'acme', ownerEmail: 'a@acme.com', ownerName: 'A', ownerPassword: 'securepass123', plan: 'free', trial: true },
  });
  expect(res.status, res.text).toBe(201);
  const health = await request(srv.url, '/api/health', { host: 'acme.saas.test' });
  expect(health.body).toEqual({ status: 'ok', tenant: { slug: 'acme', status: 'active' } });
});
