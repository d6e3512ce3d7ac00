// Event and cron deliveries as Hasura sends them (hasura/README.md §2, §3): the
// shared secret, the contract's event example verbatim, each cron job's
// effect, and exactly-once: a redelivered id does nothing, a failed one stays
// retryable.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';

const SECRET = 'events-secret-0123456789abcdef';
const headers = { 'X-Hasura-Event-Secret': SECRET };

// hasura/README.md §2, byte for byte.
const CONTRACT_EVENT = `{"id":"85558393-c75d-4d2f-9c15-e80591b83894","created_at":"2018-09-05T07:14:21.601701Z",
 "trigger":{"name":"insert_user_trigger"},"table":{"schema":"public","name":"users"},
 "delivery_info":{"current_retry":0,"max_retries":3},
 "event":{"op":"INSERT",
   "data":{"old":null,"new":{"id":"42","name":"john doe"}},
   "session_variables":{"x-hasura-role":"user","x-hasura-user-id":"1"},
   "trace_context":{"trace_id":"<hex>","span_id":"<hex>"}}}`;

let db: TestDb;
let srv: RunningServer;

beforeAll(async () => {
  db = await createTestDb();
  srv = await startTestServer(db, { EVENTS_SECRET: SECRET });
});
afterAll(async () => {
  await srv?.close();
  await db?.close();
});

interface Delivery {
  status?: string;
  result?: Record<string, unknown>;
  error?: { code: string };
}
const post = (path: string, body: unknown, h: Record<string, string> = headers) =>
  request<Delivery>(srv.url, path, typeof body === 'string' ? { rawBody: body, headers: h } : { body, headers: h });

/** A cron delivery in the shape of hasura/README.md §3 (null fields left out, as Hasura does). */
const cron = (name: string, payload: unknown = {}, id = randomUUID(), scheduled = new Date()) => ({
  id,
  name,
  scheduled_time: scheduled.toISOString(),
  payload,
  comment: `${name} (test)`,
});
const receipts = async (id: string) => (await db.pool.query('select kind, name from public.hasura_event_receipts where event_id = $1', [id])).rows;

describe('authentication', () => {
  it('requires the shared secret header', async () => {
    const body = cron('expire_invitations');
    const variants: Record<string, string>[] = [{}, { 'X-Hasura-Event-Secret': 'events-secret-0123456789abcdeX' }];
    for (const h of variants) {
      const res = await post('/hasura/cron/expire_invitations', body, h);
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe('UNAUTHENTICATED');
    }
    expect(await receipts(body.id)).toEqual([]);
  });

  it('is off (503) while EVENTS_SECRET is not configured', async () => {
    const saved = srv.ctx.env.EVENTS_SECRET;
    srv.ctx.env.EVENTS_SECRET = undefined;
    try {
      expect((await post('/hasura/cron/expire_invitations', cron('expire_invitations'), {})).status).toBe(503);
    } finally {
      srv.ctx.env.EVENTS_SECRET = saved;
    }
  });
});

describe('event triggers', () => {
  it('answers the contract example (a trigger we do not have) with 404 and records nothing', async () => {
    const res = await post('/hasura/events/insert_user_trigger', CONTRACT_EVENT);
    expect(res.status).toBe(404);
    expect(res.body.error?.code).toBe('NOT_FOUND');
    expect(await receipts('85558393-c75d-4d2f-9c15-e80591b83894')).toEqual([]);
  });

  it('tenant_status_changed drops the cached tenant once; a redelivery is a no-op', async () => {
    const t = await makeTenant(db, 'cached');
    // Without the LISTEN connection the cache would go stale: the event is the fallback path.
    await srv.ctx.resolver.stop();
    try {
      expect((await srv.ctx.resolver.bySlug('cached'))?.status).toBe('active');
      await db.pool.query(`update public.tenants set status = 'suspended', suspended_at = now() where id = $1`, [t.tenant.id]);
      expect((await srv.ctx.resolver.bySlug('cached'))?.status).toBe('active');

      const event = JSON.parse(CONTRACT_EVENT) as Record<string, any>;
      event.id = randomUUID();
      event.trigger = { name: 'tenant_status_changed' };
      event.table = { schema: 'public', name: 'tenants' };
      event.event = {
        ...event.event,
        op: 'UPDATE',
        data: {
          old: { id: t.tenant.id, slug: 'cached', custom_domain: null, status: 'active' },
          new: { id: t.tenant.id, slug: 'cached', custom_domain: null, status: 'suspended' },
        },
        session_variables: null,
      };
      const first = await post('/hasura/events/tenant_status_changed', event);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({ status: 'processed', result: { tenantId: t.tenant.id } });
      expect((await srv.ctx.resolver.bySlug('cached'))?.status).toBe('suspended');

      const again = await post('/hasura/events/tenant_status_changed', { ...event, delivery_info: { current_retry: 1, max_retries: 3 } });
      expect(again.body).toEqual({ status: 'duplicate' });
      expect(await receipts(event.id)).toEqual([{ kind: 'event', name: 'tenant_status_changed' }]);
    } finally {
      await srv.ctx.resolver.start();
    }
  });

  it('refuses a delivery sent to the wrong trigger path', async () => {
    const event = JSON.parse(CONTRACT_EVENT) as Record<string, any>;
    event.trigger = { name: 'something_else' };
    expect((await post('/hasura/events/tenant_status_changed', event)).status).toBe(400);
  });
});

describe('cron jobs', () => {
  async function cancelledLongAgo(slug: string): Promise<MadeTenant> {
    const t = await makeTenant(db, slug);
    await db.pool.query(`update public.tenants set status = 'cancelled', cancelled_at = now() - interval '100 days' where id = $1`, [t.tenant.id]);
    return t;
  }
  const statusOf = async (t: MadeTenant) => (await db.pool.query('select status from public.tenants where id = $1', [t.tenant.id])).rows[0].status;

  it('archive_cancelled_tenants archives once per delivery id: a redelivery archives nothing new', async () => {
    const first = await cancelledLongAgo('gone-one');
    const delivery = cron('archive_cancelled_tenants', { olderThanDays: 90 });
    const res = await post('/hasura/cron/archive_cancelled_tenants', delivery);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'processed', result: { archived: 1 } });
    expect(await statusOf(first)).toBe('archived');

    // Another tenant becomes eligible; Hasura redelivers the same invocation.
    const second = await cancelledLongAgo('gone-two');
    expect((await post('/hasura/cron/archive_cancelled_tenants', delivery)).body).toEqual({ status: 'duplicate' });
    expect(await statusOf(second)).toBe('cancelled');
    // The next scheduled invocation does it.
    expect((await post('/hasura/cron/archive_cancelled_tenants', cron('archive_cancelled_tenants', { olderThanDays: 90 }))).body).toEqual({
      status: 'processed',
      result: { archived: 1 },
    });
    expect(await statusOf(second)).toBe('archived');
  });

  it('handles concurrent duplicate deliveries exactly once', async () => {
    await cancelledLongAgo('gone-three');
    const delivery = cron('archive_cancelled_tenants', { olderThanDays: 90 });
    const replies = await Promise.all([1, 2, 3, 4].map(() => post('/hasura/cron/archive_cancelled_tenants', delivery)));
    expect(replies.map((r) => r.body.status).sort()).toEqual(['duplicate', 'duplicate', 'duplicate', 'processed']);
    expect(replies.find((r) => r.body.status === 'processed')?.body.result).toEqual({ archived: 1 });
  });

  it('suspend_past_due_tenants judges grace periods at the scheduled time', async () => {
    const late = await makeTenant(db, 'late-payer');
    await db.pool.query(
      `update public.tenants set past_due_since = now(), grace_ends_at = now() + interval '1 day' where id = $1`,
      [late.tenant.id],
    );
    const now = await post('/hasura/cron/suspend_past_due_tenants', cron('suspend_past_due_tenants'));
    expect(now.body).toEqual({ status: 'processed', result: { suspended: [] } });
    const inTwoDays = cron('suspend_past_due_tenants', {}, randomUUID(), new Date(Date.now() + 2 * 86_400_000));
    const later = await post('/hasura/cron/suspend_past_due_tenants', inTwoDays);
    expect(later.body).toEqual({ status: 'processed', result: { suspended: [late.tenant.id] } });
    expect(await statusOf(late)).toBe('suspended');
  });

  it('expire_invitations deletes invitations past their expiry, and only those', async () => {
    const t = await makeTenant(db, 'inviter');
    const invite = (email: string, expires: string) =>
      db.pool.query(
        `insert into public.tenant_invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
         values ($1, $2, 'member', sha256(convert_to($2, 'UTF8')), $3, now() + $4::interval)`,
        [t.tenant.id, email, t.ownerId, expires],
      );
    await invite('old@inviter.example.com', '-1 day');
    await invite('fresh@inviter.example.com', '6 days');
    const res = await post('/hasura/cron/expire_invitations', cron('expire_invitations'));
    expect(res.body).toEqual({ status: 'processed', result: { expired: 1 } });
    const left = await db.pool.query('select email from public.tenant_invitations where tenant_id = $1', [t.tenant.id]);
    expect(left.rows).toEqual([{ email: 'fresh@inviter.example.com' }]);
  });

  it('prune_processed_records prunes old processed webhooks and old receipts; a failed run stays retryable', async () => {
    await db.pool.query(
      `insert into public.stripe_webhooks (event_id, type, payload, processed, processed_at, created_at)
       values ('evt_old', 'invoice.paid', '{}', true, now() - interval '40 days', now() - interval '40 days'),
              ('evt_new', 'invoice.paid', '{}', true, now(), now()),
              ('evt_failed', 'invoice.paid', '{}', false, null, now() - interval '40 days')`,
    );
    await db.pool.query(`insert into public.hasura_event_receipts (event_id, kind, name, received_at) values ('old-receipt', 'cron', 'x', now() - interval '40 days')`);

    // The job's function is missing for a moment: the delivery fails and leaves no receipt.
    const delivery = cron('prune_processed_records', { olderThanDays: 30 });
    await db.pool.query('alter function public.purge_stripe_webhooks(interval) rename to purge_stripe_webhooks_away');
    try {
      expect((await post('/hasura/cron/prune_processed_records', delivery)).status).toBe(500);
    } finally {
      await db.pool.query('alter function public.purge_stripe_webhooks_away(interval) rename to purge_stripe_webhooks');
    }
    expect(await receipts(delivery.id)).toEqual([]);

    const retried = await post('/hasura/cron/prune_processed_records', delivery);
    expect(retried.body).toEqual({ status: 'processed', result: { stripeWebhooks: 1, eventReceipts: 1 } });
    const kept = await db.pool.query('select event_id from public.stripe_webhooks order by event_id');
    expect(kept.rows.map((r) => r.event_id)).toEqual(['evt_failed', 'evt_new']);
  });

  it('refuses an unknown job, a payload it does not understand, and a delivery for another job', async () => {
    expect((await post('/hasura/cron/drop_everything', cron('drop_everything'))).status).toBe(404);
    expect((await post('/hasura/cron/archive_cancelled_tenants', cron('archive_cancelled_tenants', { olderThanDays: 'all' }))).status).toBe(400);
    expect((await post('/hasura/cron/archive_cancelled_tenants', cron('expire_invitations'))).status).toBe(400);
  });
});
