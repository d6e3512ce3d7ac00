// Meters and ingestion: the documented request as written, batches stored exactly
// once per idempotency key, caps (hard refuses the whole batch, soft records
// overage), audited corrections, the enforcement check, platform-admin meters
// and plan/tenant caps, and GET /usage listing every meter.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makePlatformAdmin, makeTenant, type MadeTenant } from '../support/factories.ts';
import { usagePeriod } from '../../actions-server/src/usage/service.ts';
import { asPersona } from '../support/personas.ts';

let adminToken: string;

const fx = useTestServer({ RATE_LIMIT_ENABLED: 'false' });
beforeAll(async () => {
  const admin = await makePlatformAdmin(fx.db);
  adminToken = fx.srv.ctx.tokens.sign({ userId: admin.id, tenantId: null, role: 'platform_admin' }).token;
});

const host = (m: MadeTenant) => `${m.tenant.slug}.saas.test`;
const ownerToken = (m: MadeTenant) => fx.srv.ctx.tokens.sign({ userId: m.ownerId, tenantId: m.tenant.id, role: 'owner' }).token;
const track = (m: MadeTenant, body: unknown) => request(fx.srv.url, '/api/v1/usage/track', { host: host(m), token: ownerToken(m), body });
const totals = async (m: MadeTenant, meter: string) =>
  (
    await fx.db.pool.query<{ usage: string; n: string; events: string; overage: string }>(
      `select t.usage::text, t.event_count::text as n, t.overage::text,
              (select count(*) from public.usage_events e where e.tenant_id = $1 and e.meter_id = $2)::text as events
       from public.usage_meter_totals t where t.tenant_id = $1 and t.meter_id = $2 and t.period = $3`,
      [m.tenant.id, meter, usagePeriod()],
    )
  ).rows[0];

describe('ingestion', () => {
  let acme: MadeTenant;
  beforeAll(async () => {
    acme = await makeTenant(fx.db, 'acme', { plan: 'pro', isolation: 'pooled' });
  });

  it('accepts the documented example request as written (default meter api-calls)', async () => {
    const res = await track(acme, {
      meter_id: 'api-calls',
      user_id: 'customer-user-id',
      event_value: 1,
      properties: { endpoint: '/api/v1/data', method: 'GET' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ accepted: 1, duplicates: 0 });
    const stored = await fx.db.pool.query('select user_id, value::int, properties, tenant_id from public.usage_events where id = $1', [
      res.body.events[0].id,
    ]);
    expect(stored.rows[0]).toEqual({
      user_id: 'customer-user-id',
      value: 1,
      properties: { endpoint: '/api/v1/data', method: 'GET' },
      tenant_id: acme.tenant.id,
    });
  });

  it('stores each idempotency key exactly once; the same key with another body is a 409 and stores nothing', async () => {
    const events = Array.from({ length: 1000 }, (_, i) => ({ meter_id: 'api-calls', event_value: 2, idempotency_key: `k-${i}` }));
    const first = await track(acme, { events });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ accepted: 1000, duplicates: 0 });
    const again = await track(acme, {
      events: events.slice(0, 10).concat([{ meter_id: 'api-calls', event_value: 2, idempotency_key: 'k-new' }]),
    });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ accepted: 1, duplicates: 10 });
    expect(again.body.events[0]).toEqual({ id: first.body.events[0].id, idempotency_key: 'k-0', duplicate: true });

    const conflict = await track(acme, {
      events: [
        { meter_id: 'api-calls', event_value: 1, idempotency_key: 'fresh' },
        { meter_id: 'api-calls', event_value: 3, idempotency_key: 'k-1' },
      ],
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.details).toMatchObject({ reason: 'idempotency_key_reused', idempotency_key: 'k-1' });
    expect((await fx.db.pool.query(`select 1 from public.usage_events where idempotency_key = 'fresh'`)).rowCount).toBe(0);
    expect(await totals(acme, 'api-calls')).toMatchObject({ usage: String(1 + 2 * 1001), events: '1002' });
  });

  it('batches racing with overlapping keys end with exact totals', async () => {
    const racer = await makeTenant(fx.db, 'racer', { plan: 'enterprise', isolation: 'pooled' });
    const batch = (b: number) => ({
      events: Array.from({ length: 200 }, (_, i) => ({
        meter_id: 'api-calls',
        event_value: 1,
        idempotency_key: `e-${(b * 100 + i) % 1000}`,
      })),
    });
    const results = await Promise.all(Array.from({ length: 10 }, (_, b) => track(racer, batch(b))));
    expect(results.map((r) => r.status).every((s) => s === 201 || s === 200)).toBe(true);
    expect(results.reduce((n, r) => n + r.body.accepted, 0)).toBe(1000);
    expect(await totals(racer, 'api-calls')).toMatchObject({ usage: '1000', events: '1000' });
  });

  it('refuses bad input with 400/404 naming the field, and a batch over 1,000', async () => {
    const unknown = await track(acme, { meter_id: 'nope', event_value: 1 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.details).toEqual({ meter_id: 'nope' });
    const negative = await track(acme, { meter_id: 'api-calls', event_value: -1 });
    expect(negative.status).toBe(400);
    expect(negative.body.error.message).toContain('event_value');
    const old = await track(acme, { meter_id: 'api-calls', event_value: 1, timestamp: '2020-01-01T00:00:00Z' });
    expect(old.status).toBe(400);
    expect(old.body.error.message).toContain('timestamp');
    const inBatch = await track(acme, { events: [{ meter_id: 'api-calls' }, { meter_id: 'api-calls', event_value: -2 }] });
    expect(inBatch.status).toBe(400);
    expect(inBatch.body.error.message).toContain('events.1.event_value');
    const big = await track(acme, { events: Array.from({ length: 1001 }, () => ({ meter_id: 'api-calls' })) });
    expect(big.status).toBe(400);
    const anonymous = await request(fx.srv.url, '/api/v1/usage/track', { host: host(acme), body: { meter_id: 'api-calls' } });
    expect(anonymous.status).toBe(401);
  });

  it('a correction is a negative event, lowers the total and is audited', async () => {
    const before = Number((await totals(acme, 'api-calls'))!.usage);
    const res = await track(acme, {
      meter_id: 'api-calls',
      event_value: -5,
      correction: true,
      reason: 'double-counted import',
      idempotency_key: 'fix-1',
    });
    expect(res.status).toBe(201);
    expect(Number((await totals(acme, 'api-calls'))!.usage)).toBe(before - 5);
    const audit = await fx.db.pool.query(
      `select action, entity_id, new_values from public.tenant_audit_logs where tenant_id = $1 and action = 'usage.corrected'`,
      [acme.tenant.id],
    );
    expect(audit.rows).toEqual([
      expect.objectContaining({
        entity_id: res.body.events[0].id,
        new_values: expect.objectContaining({ value: -5, reason: 'double-counted import' }),
      }),
    ]);
    // append-only for request roles: app may not update or delete events
    await asPersona(fx.db.pool, { kind: 'app', tenantId: acme.tenant.id }, async (client) => {
      await expect(client.query('update public.usage_events set value = 0')).rejects.toThrow(/permission denied/);
    });
  });
});

describe('caps and the enforcement check', () => {
  it('a hard cap refuses the batch that would pass it (429 QUOTA_EXCEEDED, nothing stored); check answers allowed/remaining/resetsAt', async () => {
    const free = await makeTenant(fx.db, 'freebie', { plan: 'free', isolation: 'pooled' });
    // free: api-calls capped at 1,000, hard
    expect((await track(free, { meter_id: 'api-calls', event_value: 990 })).status).toBe(201);
    const check = await request(fx.srv.url, '/api/v1/usage/check', {
      host: host(free),
      token: ownerToken(free),
      body: { meter_id: 'api-calls', amount: 10 },
    });
    expect(check.status).toBe(200);
    const next = new Date();
    expect(check.body).toMatchObject({
      allowed: true,
      remaining: 10,
      resetsAt: new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 1)).toISOString(),
    });
    const over = await request(fx.srv.url, '/api/v1/usage/check', {
      host: host(free),
      token: ownerToken(free),
      body: { meter_id: 'api-calls', amount: 11 },
    });
    expect(over.body).toMatchObject({ allowed: false, remaining: 10 });

    const refused = await track(free, {
      events: [
        { meter_id: 'api-calls', event_value: 5, idempotency_key: 'a' },
        { meter_id: 'api-calls', event_value: 6, idempotency_key: 'b' },
      ],
    });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('QUOTA_EXCEEDED');
    expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    expect(await totals(free, 'api-calls')).toMatchObject({ usage: '990', events: '1' });
    expect((await track(free, { meter_id: 'api-calls', event_value: 10 })).status).toBe(201);
    expect((await track(free, { meter_id: 'api-calls', event_value: -3, correction: true })).status).toBe(201);
  });

  it('a soft cap records overage; usage lists every meter with cap and overage', async () => {
    const pro = await makeTenant(fx.db, 'softy', { plan: 'pro', isolation: 'pooled' });
    await request(fx.srv.url, '/api/v1/plans/pro/meters/api-calls', {
      method: 'PUT',
      token: adminToken,
      body: { cap: 100, enforcement: 'soft' },
    });
    const res = await track(pro, { meter_id: 'api-calls', event_value: 130 });
    expect(res.status).toBe(201);
    expect(await totals(pro, 'api-calls')).toMatchObject({ usage: '130', overage: '30' });
    const check = await request(fx.srv.url, '/api/v1/usage/check', {
      host: host(pro),
      token: ownerToken(pro),
      body: { meter_id: 'api-calls' },
    });
    expect(check.body).toMatchObject({ allowed: true, remaining: 0, enforcement: 'soft' });
    const usage = await request(fx.srv.url, `/api/tenants/${pro.tenant.id}/usage`, { host: host(pro), token: ownerToken(pro) });
    expect(usage.status).toBe(200);
    expect(usage.body.usage.meters).toContainEqual(
      expect.objectContaining({ meterId: 'api-calls', usage: 130, cap: 100, overage: 30, enforcement: 'soft' }),
    );
    await request(fx.srv.url, '/api/v1/plans/pro/meters/api-calls', {
      method: 'PUT',
      token: adminToken,
      body: { cap: 50000, enforcement: 'soft' },
    });
  });

  it('platform admins define meters (sum/count/max) and per-tenant caps; others may not', async () => {
    const t = await makeTenant(fx.db, 'metered', { plan: 'pro', isolation: 'pooled' });
    const denied = await request(fx.srv.url, '/api/v1/meters', { token: ownerToken(t), body: { id: 'storage-gb', name: 'Storage' } });
    expect(denied.status).toBe(403);
    for (const [id, aggregation] of [
      ['peak-seats', 'max'],
      ['exports', 'count'],
    ] as const) {
      const created = await request(fx.srv.url, '/api/v1/meters', { token: adminToken, body: { id, name: id, aggregation, unit: 'unit' } });
      expect(created.status).toBe(201);
    }
    expect((await request(fx.srv.url, '/api/v1/meters', { token: adminToken, body: { id: 'exports', name: 'again' } })).status).toBe(409);
    const cap = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/meters/exports`, {
      method: 'PUT',
      token: adminToken,
      body: { cap: 2, enforcement: 'hard' },
    });
    expect(cap.status).toBe(200);
    expect(
      (
        await track(t, {
          events: [
            { meter_id: 'peak-seats', event_value: 7 },
            { meter_id: 'peak-seats', event_value: 4 },
            { meter_id: 'exports', event_value: 50 },
          ],
        })
      ).status,
    ).toBe(201);
    expect(await totals(t, 'peak-seats')).toMatchObject({ usage: '7' });
    expect(await totals(t, 'exports')).toMatchObject({ usage: '1' });
    expect((await track(t, { events: [{ meter_id: 'exports' }, { meter_id: 'exports' }] })).status).toBe(429);
    const list = await request(fx.srv.url, '/api/v1/meters', { token: ownerToken(t) });
    expect(list.body.meters.map((m: { id: string }) => m.id)).toEqual(['api-calls', 'exports', 'peak-seats']);
  });
});
