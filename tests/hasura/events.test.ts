// Event deliveries as Hasura sends them: the shared secret, the contract's
// event example verbatim, and exactly-once: a redelivered id does nothing.
// Periodic work is the job runner's (tests/jobs/periodic.test.ts): the cron
// trigger endpoint is gone.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant } from '../support/factories.ts';

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

const fx = useTestServer({ EVENTS_SECRET: SECRET });

interface Delivery {
  status?: string;
  result?: Record<string, unknown>;
  error?: { code: string };
}
const post = (path: string, body: unknown, h: Record<string, string> = headers) =>
  request<Delivery>(fx.srv.url, path, typeof body === 'string' ? { rawBody: body, headers: h } : { body, headers: h });

/** Hasura's event trigger body, as the contract fixture has it. */
type EventBody = Record<string, unknown> & { id: string; event: Record<string, unknown> };

/** An event trigger delivery for tenant_status_changed. */
const statusEvent = (tenantId: string) => {
  const event = JSON.parse(CONTRACT_EVENT) as EventBody;
  event.id = randomUUID();
  event.trigger = { name: 'tenant_status_changed' };
  event.table = { schema: 'public', name: 'tenants' };
  event.event = { ...event.event, op: 'UPDATE', data: { old: { id: tenantId }, new: { id: tenantId } }, session_variables: null };
  return event;
};
const receipts = async (id: string) =>
  (await fx.db.pool.query('select kind, name from public.hasura_event_receipts where event_id = $1', [id])).rows;

describe('authentication', () => {
  it('requires the shared secret header', async () => {
    const body = statusEvent(randomUUID());
    const variants: Record<string, string>[] = [{}, { 'X-Hasura-Event-Secret': 'events-secret-0123456789abcdeX' }];
    for (const h of variants) {
      const res = await post('/hasura/events/tenant_status_changed', body, h);
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe('UNAUTHENTICATED');
    }
    expect(await receipts(body.id)).toEqual([]);
  });

  it('is off (503) while EVENTS_SECRET is not configured', async () => {
    const saved = fx.srv.ctx.env.EVENTS_SECRET;
    fx.srv.ctx.env.EVENTS_SECRET = undefined;
    try {
      expect((await post('/hasura/events/tenant_status_changed', statusEvent(randomUUID()), {})).status).toBe(503);
    } finally {
      fx.srv.ctx.env.EVENTS_SECRET = saved;
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
    const t = await makeTenant(fx.db, 'cached');
    // Without the LISTEN connection the cache would go stale: the event is the fallback path.
    await fx.srv.ctx.resolver.stop();
    try {
      expect((await fx.srv.ctx.resolver.bySlug('cached'))?.status).toBe('active');
      await fx.db.pool.query(`update public.tenants set status = 'suspended', suspended_at = now() where id = $1`, [t.tenant.id]);
      expect((await fx.srv.ctx.resolver.bySlug('cached'))?.status).toBe('active');

      const event = JSON.parse(CONTRACT_EVENT) as EventBody;
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
      expect((await fx.srv.ctx.resolver.bySlug('cached'))?.status).toBe('suspended');

      const again = await post('/hasura/events/tenant_status_changed', { ...event, delivery_info: { current_retry: 1, max_retries: 3 } });
      expect(again.body).toEqual({ status: 'duplicate' });
      expect(await receipts(event.id)).toEqual([{ kind: 'event', name: 'tenant_status_changed' }]);
    } finally {
      await fx.srv.ctx.resolver.start();
    }
  });

  it('refuses a delivery sent to the wrong trigger path', async () => {
    const event = JSON.parse(CONTRACT_EVENT) as EventBody;
    event.trigger = { name: 'something_else' };
    expect((await post('/hasura/events/tenant_status_changed', event)).status).toBe(400);
  });
});

describe('cron triggers', () => {
  it('are not served: periodic work runs in the job runner, once per slot', async () => {
    const res = await post('/hasura/cron/expire_invitations', { id: randomUUID(), scheduled_time: new Date().toISOString(), payload: {} });
    expect(res.status).toBe(404);
  });
});
