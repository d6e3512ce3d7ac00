// The platform's audit trail (GET /api/audit): platform entries (plans) and
// every tenant's entries, newest first in one list, with filters and keyset
// pages; personal values stay in the tenants' own trails.
import { beforeAll, expect, test } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makePlatformAdmin, makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';

let adminToken: string;
let adminId: string;
let ownerToken: string;
let one: MadeTenant;
let two: MadeTenant;

async function login(host: string, email: string, password: string): Promise<string> {
  const res = await request(fx.srv.url, '/api/auth/login', { host, body: { email, password } });
  expect(res.status, res.text).toBe(200);
  return res.body.token;
}
const asAdmin = (path: string, opts: { method?: string; body?: unknown } = {}) =>
  request(fx.srv.url, path, { host: 'saas.test', token: adminToken, ...opts });

const fx = useTestServer();
beforeAll(async () => {
  one = await makeTenant(fx.db, 'trailone', { isolation: 'pooled' });
  two = await makeTenant(fx.db, 'trailtwo', { isolation: 'pooled' });
  const ops = await makePlatformAdmin(fx.db);
  adminId = ops.id;
  adminToken = await login('saas.test', ops.email, ops.password);
  ownerToken = await login('trailone.saas.test', one.ownerEmail, OWNER_PASSWORD);
});

test('platform and tenant entries, newest first, filtered and paged; closed to everyone else', async () => {
  expect((await asAdmin(`/api/tenants/${two.tenant.id}/suspend`, { method: 'POST' })).status).toBe(200);
  expect((await asAdmin('/api/plans/pro/entitlements', { method: 'PUT', body: { limits: { max_users: 77 } } })).status).toBe(200);

  const all = await asAdmin('/api/audit');
  expect(all.status, all.text).toBe(200);
  const [newest, suspended] = all.body.entries;
  expect(newest).toMatchObject({
    source: 'platform',
    tenantId: null,
    action: 'plan.updated',
    entityType: 'plan',
    entityId: 'pro',
    actor: { kind: 'user', id: adminId },
  });
  expect(suspended).toMatchObject({
    source: 'tenant',
    tenantId: two.tenant.id,
    tenantSlug: 'trailtwo',
    action: 'tenant.suspended',
    actor: { id: adminId },
  });
  const times = all.body.entries.map((e: { createdAt: string }) => e.createdAt);
  expect(times).toEqual([...times].sort().reverse());
  // Both tenants' sign-ups are there, without the personal values (the owner's address).
  const tenants = new Set(all.body.entries.map((e: { tenantSlug: string | null }) => e.tenantSlug));
  expect(tenants).toEqual(new Set([null, 'trailone', 'trailtwo']));
  expect(all.text).not.toContain(one.ownerEmail);

  const onlyPlatform = await asAdmin('/api/audit?source=platform');
  expect(onlyPlatform.body.entries[0]).toEqual(newest);
  expect(onlyPlatform.body.entries.every((e: { source: string }) => e.source === 'platform')).toBe(true);
  const ofOne = await asAdmin(`/api/audit?tenantId=${one.tenant.id}`);
  expect(ofOne.status, ofOne.text).toBe(200);
  expect(ofOne.body.entries.length).toBeGreaterThan(0);
  expect(ofOne.body.entries.every((e: { tenantId: string }) => e.tenantId === one.tenant.id)).toBe(true);
  expect((await asAdmin('/api/audit?action=tenant.*')).body.entries.map((e: { action: string }) => e.action)).toContain('tenant.suspended');
  expect((await asAdmin('/api/audit?action=tenant.suspended')).body.entries).toHaveLength(1);
  expect((await asAdmin('/api/audit?from=2999-01-01')).body.entries).toEqual([]);

  // One entry a page: the same entries in the same order.
  const paged: unknown[] = [];
  let cursor: string | null = null;
  do {
    const res = await asAdmin(`/api/audit?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status, res.text).toBe(200);
    paged.push(...res.body.entries);
    cursor = res.body.nextCursor;
  } while (cursor);
  expect(paged).toEqual(all.body.entries);

  const bad = await asAdmin('/api/audit?cursor=zzz');
  expect(bad.status).toBe(400);
  expect(bad.body.error.details.issues).toEqual([{ path: 'cursor', message: 'must be the nextCursor of a previous page' }]);
  expect((await asAdmin('/api/audit?source=elsewhere')).status).toBe(400);
  expect((await asAdmin('/api/audit?tenantId=nope')).status).toBe(400);
  expect((await request(fx.srv.url, '/api/audit', { host: 'trailone.saas.test', token: ownerToken })).status).toBe(403);
  expect((await request(fx.srv.url, '/api/audit', { host: 'saas.test' })).status).toBe(401);
});
