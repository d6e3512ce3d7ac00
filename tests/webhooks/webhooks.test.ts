// Tenant webhooks: endpoints (secret shown once, bad input refused), events
// emitted by the database whatever path made the change, deliveries signed per
// Standard Webhooks and verified by the library, the retry schedule, disabling
// after days of failure (audited), the delivery log, replay, and SSRF checks at
// registration and again at send time.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { deliverDue } from '../../actions-server/src/webhooks/delivery.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { WEBHOOK_JOBS } from '../../actions-server/src/webhooks/jobs.ts';
import { RETRY_SCHEDULE_MS } from '../../actions-server/src/webhooks/catalogue.ts';
import { isInternalAddress } from '../../actions-server/src/webhooks/targets.ts';

let db: TestDb;
let srv: RunningServer;
let rx: WebhookReceiver;
let acme: MadeTenant;

beforeAll(async () => {
  rx = await startWebhookReceiver();
  db = await createTestDb();
  srv = await startTestServer(db, { RATE_LIMIT_ENABLED: 'false', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
  acme = await makeTenant(db, 'acme', { plan: 'pro', isolation: 'pooled' });
});
// One tenant for the file: each test's endpoints go with it.
afterEach(async () => {
  await db.pool.query('delete from public.webhook_endpoints');
});
afterAll(async () => {
  await srv?.close();
  await db?.close();
  await rx?.close();
});

const host = (m: MadeTenant) => `${m.tenant.slug}.saas.test`;
const tokenOf = (m: MadeTenant, userId = m.ownerId, role: 'owner' | 'admin' | 'member' = 'owner') =>
  srv.ctx.tokens.sign({ userId, tenantId: m.tenant.id, role }).token;
const api = (m: MadeTenant, path: string, opts: { method?: string; body?: unknown; token?: string } = {}) =>
  request(srv.url, `/api/tenants/${m.tenant.id}${path}`, {
    host: host(m),
    token: opts.token ?? tokenOf(m),
    method: opts.method,
    body: opts.body,
  });

async function endpoint(m: MadeTenant, path: string, eventTypes: string[]): Promise<string> {
  const res = await api(m, '/webhooks', { body: { url: `${rx.url}${path}`, eventTypes, description: `receiver ${path}` } });
  expect(res.status).toBe(201);
  rx.secrets.set(path, res.body.secret);
  return res.body.endpoint.id;
}
/** A new member, as any code path adds one (no password: nothing to hash). */
async function join(t: MadeTenant, email: string): Promise<{ id: string }> {
  const { rows } = await db.pool.query<{ id: string }>(`insert into public.identities (email, name) values ($1, $1) returning id`, [email]);
  await db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'member')`, [
    t.tenant.id,
    rows[0]!.id,
  ]);
  return rows[0]!;
}
const deliveriesOf = async (endpointId: string) =>
  (await db.pool.query(`select * from public.webhook_deliveries where endpoint_id = $1 order by created_at, id`, [endpointId])).rows;
const dueNow = (endpointId: string) =>
  db.pool.query(`update public.webhook_deliveries set next_attempt_at = now() where endpoint_id = $1 and status = 'pending'`, [endpointId]);

describe('endpoints', () => {
  it('registers an endpoint (secret shown once), lists it without the secret, and refuses bad input', async () => {
    const res = await api(acme, '/webhooks', { body: { url: `${rx.url}/first`, eventTypes: ['member.added'] } });
    expect(res.status).toBe(201);
    expect(res.body.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const list = await api(acme, '/webhooks');
    expect(list.body.endpoints).toEqual([
      expect.objectContaining({ id: res.body.endpoint.id, eventTypes: ['member.added'], enabled: true }),
    ]);
    expect(JSON.stringify(list.body)).not.toContain(res.body.secret);
    expect((await api(acme, `/webhooks/${res.body.endpoint.id}`, { method: 'DELETE' })).status).toBe(204);

    const ftp = await api(acme, '/webhooks', { body: { url: 'ftp://example.com/x', eventTypes: ['member.added'] } });
    expect(ftp.status).toBe(400);
    expect(ftp.body.error.message).toContain('url');
    const unknown = await api(acme, '/webhooks', { body: { url: `${rx.url}/x`, eventTypes: ['member.added', 'user.exploded'] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('eventTypes.1');
    // Inside the network, with the default setting.
    srv.ctx.env.WEBHOOK_ALLOW_PRIVATE_TARGETS = false;
    try {
      for (const url of [
        'http://127.0.0.1:9/x',
        'http://localhost/x',
        'http://10.1.2.3/',
        'http://169.254.169.254/latest',
        'http://[::1]/x',
        'http://192.168.0.10/',
      ]) {
        const refused = await api(acme, '/webhooks', { body: { url, eventTypes: ['member.added'] } });
        expect(refused.status, url).toBe(400);
        expect(refused.body.error.message).toMatch(/internal address/);
      }
    } finally {
      srv.ctx.env.WEBHOOK_ALLOW_PRIVATE_TARGETS = true;
    }
    expect(isInternalAddress('::ffff:127.0.0.1')).toBe(true);
    expect(isInternalAddress('93.184.216.34')).toBe(false);
    const catalogue = await request(srv.url, '/api/webhooks/event-types');
    expect(catalogue.body.retrySchedule.delaysMs).toEqual([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
  });

  it('members may not manage endpoints', async () => {
    const member = await join(acme, 'member@acme.example.com');
    const res = await api(acme, '/webhooks', { token: tokenOf(acme, member.id, 'member') });
    expect(res.status).toBe(403);
  });
});

describe('events and deliveries', () => {
  it('emits every catalogued event from the database, whatever path made the change; each delivery verifies', async () => {
    const t = acme;
    const all = [
      'tenant.updated',
      'member.added',
      'member.removed',
      'member.role_changed',
      'invitation.accepted',
      'subscription.changed',
      'usage.threshold_reached',
    ];
    await endpoint(t, '/all', all);
    await endpoint(t, '/members-only', ['member.added']);
    // SQL directly, as any future code path would.
    const m = await join(t, 'new@events.example.com');
    await db.pool.query(`update public.memberships set role = 'admin' where tenant_id = $1 and identity_id = $2`, [t.tenant.id, m.id]);
    await db.pool.query(`delete from public.memberships where tenant_id = $1 and identity_id = $2`, [t.tenant.id, m.id]);
    // REST
    expect((await api(t, '', { method: 'PUT', body: { name: 'Events Renamed' } })).status).toBe(200);
    await db.pool.query(`update public.tenants set plan = 'enterprise', subscription_status = 'active' where id = $1`, [t.tenant.id]);
    const inv = await db.pool.query<{ id: string }>(
      `insert into public.tenant_invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
       values ($1, 'inv@events.example.com', 'member', $2, $3, now() + interval '1 day') returning id`,
      [t.tenant.id, createHash('sha256').update(randomBytes(8)).digest(), t.ownerId],
    );
    await db.pool.query(`update public.tenant_invitations set accepted_at = now(), accepted_by = $3 where tenant_id = $1 and id = $2`, [
      t.tenant.id,
      inv.rows[0]!.id,
      t.ownerId,
    ]);
    // 80% and 100% of a cap, crossed by ingestion
    await db.pool.query(
      `insert into public.tenant_meter_caps (tenant_id, meter_id, cap, enforcement) values ($1, 'api-calls', 10, 'soft')`,
      [t.tenant.id],
    );
    const track = (v: number) =>
      request(srv.url, '/api/v1/usage/track', { host: host(t), token: tokenOf(t), body: { meter_id: 'api-calls', event_value: v } });
    for (const v of [5, 3, 1, 2]) expect((await track(v)).status).toBe(201);

    // The database woke the delivery job; run what is due as the runner would.
    await runDueJobs(srv.ctx, WEBHOOK_JOBS);
    const got = rx.received.filter((r) => r.path === '/all');
    expect(got.map((r) => r.body.type)).toEqual([
      'member.added',
      'member.role_changed',
      'member.removed',
      'tenant.updated',
      'subscription.changed',
      'invitation.accepted',
      'usage.threshold_reached',
      'usage.threshold_reached',
    ]);
    expect(got.every((r) => r.verified)).toBe(true);
    expect(got.every((r) => r.body.data['tenant_id'] === t.tenant.id)).toBe(true);
    expect(
      got.filter((r) => r.body.type === 'usage.threshold_reached').map((r) => [r.body.data['threshold_percent'], r.body.data['usage']]),
    ).toEqual([
      [80, 8],
      [100, 11],
    ]);
    expect(got.find((r) => r.body.type === 'member.role_changed')!.body.data).toMatchObject({
      role: 'admin',
      previous_role: 'member',
      user_id: m.id,
    });
    expect(got.find((r) => r.body.type === 'subscription.changed')!.body.data).toMatchObject({ plan: 'enterprise', previous_plan: 'pro' });
    expect(rx.received.filter((r) => r.path === '/members-only').map((r) => r.body.type)).toEqual(['member.added']);
    // A second run sends nothing again.
    const before = rx.received.length;
    await deliverDue(srv.ctx);
    expect(rx.received.length).toBe(before);
  });

  it('retries failures on the schedule, logs every attempt, gives up after 8, and a replay sends the event again', async () => {
    const t = acme;
    const id = await endpoint(t, '/flaky', ['member.added']);
    rx.respond.set('/flaky', 503);
    await join(t, 'x@flaky.example.com');
    for (let attempt = 1; attempt <= 8; attempt++) {
      const started = Date.now();
      await dueNow(id);
      await deliverDue(srv.ctx);
      const [d] = await deliveriesOf(id);
      expect(d.attempts).toBe(attempt);
      if (attempt < 8) {
        expect(d.status).toBe('pending');
        const wait = new Date(d.next_attempt_at).getTime() - started;
        expect(wait).toBeGreaterThanOrEqual(RETRY_SCHEDULE_MS[attempt]! - 50);
        expect(wait).toBeLessThan(RETRY_SCHEDULE_MS[attempt]! + 30_000);
      } else {
        expect(d.status).toBe('failed');
      }
    }
    const got = rx.received.filter((r) => r.path === '/flaky');
    expect(got).toHaveLength(8);
    // One webhook-id across attempts (receivers dedupe on it), each signature valid.
    expect(new Set(got.map((r) => r.id)).size).toBe(1);
    expect(got.every((r) => r.verified)).toBe(true);

    const log = await api(t, `/webhooks/${id}/deliveries`);
    expect(log.status).toBe(200);
    expect(log.body.deliveries).toHaveLength(1);
    expect(log.body.deliveries[0]).toMatchObject({ status: 'failed', attempts: 8, lastStatusCode: 503, eventType: 'member.added' });
    expect(log.body.deliveries[0].history.map((h: { attempt: number; statusCode: number }) => [h.attempt, h.statusCode])).toEqual(
      Array.from({ length: 8 }, (_, i) => [i + 1, 503]),
    );
    expect(log.body.deliveries[0].history.every((h: { latencyMs: number }) => h.latencyMs >= 0)).toBe(true);

    rx.respond.set('/flaky', 200);
    const replay = await api(t, `/webhooks/${id}/deliveries/${log.body.deliveries[0].id}/replay`, { method: 'POST' });
    expect(replay.status).toBe(202);
    await runDueJobs(srv.ctx, WEBHOOK_JOBS);
    const after = rx.received.filter((r) => r.path === '/flaky');
    expect(after).toHaveLength(9);
    expect(after[8]).toMatchObject({ id: got[0]!.id, answered: 200, verified: true });
    const rows = await deliveriesOf(id);
    expect(rows.map((r) => [r.status, r.replay_of])).toEqual([
      ['failed', null],
      ['succeeded', log.body.deliveries[0].id],
    ]);
  });

  it('an endpoint failing for 5 days is disabled, its pending deliveries cancelled, and the owners told (audit trail)', async () => {
    const t = acme;
    const id = await endpoint(t, '/dying', ['member.added', 'member.removed']);
    rx.respond.set('/dying', 500);
    const m = await join(t, 'x@dying.example.com');
    await deliverDue(srv.ctx);
    expect((await api(t, `/webhooks/${id}`)).body.endpoint.failingSince).not.toBeNull();
    await db.pool.query(`update public.webhook_endpoints set failing_since = now() - interval '5 days 1 minute' where id = $1`, [id]);
    await db.pool.query(`delete from public.memberships where tenant_id = $1 and identity_id = $2`, [t.tenant.id, m.id]);
    await dueNow(id);
    await deliverDue(srv.ctx);
    const ep = (await api(t, `/webhooks/${id}`)).body.endpoint;
    expect(ep).toMatchObject({ enabled: false, disabledReason: 'every delivery failed for 5 days' });
    expect((await deliveriesOf(id)).map((d) => d.status)).toEqual(['cancelled', 'cancelled']);
    const audit = await db.pool.query(`select action from public.tenant_audit_logs where tenant_id = $1 and entity_id = $2 order by seq`, [
      t.tenant.id,
      id,
    ]);
    expect(audit.rows.map((r) => r.action)).toEqual(['webhook_endpoint.created', 'webhook_endpoint.disabled']);
    // Nothing more is queued for a disabled endpoint; re-enabling clears the streak.
    await join(t, 'y@dying.example.com');
    expect(await deliveriesOf(id)).toHaveLength(2);
    const enabled = await api(t, `/webhooks/${id}`, { method: 'PATCH', body: { enabled: true } });
    expect(enabled.body.endpoint).toMatchObject({ enabled: true, failingSince: null, disabledAt: null });
  });

  it('a target that turns internal after registration is refused at send time and never reached', async () => {
    const t = acme;
    const id = await endpoint(t, '/rebind', ['member.added']);
    await join(t, 'x@rebind.example.com');
    srv.ctx.env.WEBHOOK_ALLOW_PRIVATE_TARGETS = false;
    try {
      await deliverDue(srv.ctx);
    } finally {
      srv.ctx.env.WEBHOOK_ALLOW_PRIVATE_TARGETS = true;
    }
    const [d] = await deliveriesOf(id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1 });
    expect(d.last_error).toMatch(/^refused: .*internal address/);
    expect(rx.received.filter((r) => r.path === '/rebind')).toHaveLength(0);
  });
});
