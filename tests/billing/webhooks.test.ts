// The webhook's guarantees: only signed, fresh, untouched bodies are accepted;
// every event is stored once (202, applied by the job runner) and processed
// exactly once however often it is delivered; order of delivery does not change
// the outcome; a failure leaves nothing behind and the retry succeeds.
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Client } from '../../actions-server/src/db/tx.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import type { Isolation } from '../../actions-server/src/tenants/records.ts';
import { buildEvent, checkoutSessionObject, invoiceObject, nowSeconds, stripeId, subscriptionObject } from '../support/stripe-events.ts';
import type { SubscriptionObjectOptions } from '../support/stripe-events.ts';
import { request } from '../support/http.ts';
import { withoutTriggers } from '../support/db.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { retryFailedEvents } from '../../actions-server/src/billing/replay.ts';
import { APPLIER_ATTEMPTS, applyPendingEvents } from '../../actions-server/src/billing/webhooks.ts';
import {
  at,
  billingState,
  deliver,
  deliverOk,
  outcomeOf,
  PRICE,
  startBillingHarness,
  storedEvents,
  tenantWithOwner,
  type BillingHarness,
} from './harness.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';

let h: BillingHarness;
beforeAll(async () => {
  h = await startBillingHarness();
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => {
  h.double.requests.length = 0;
});

const DAY = 86_400;

/** A tenant whose Stripe customer exists (as checkout leaves it), with helpers to build its objects. */
async function billedTenant(slug: string, isolation?: Isolation) {
  const { id, made } = await tenantWithOwner(h, slug, isolation ? { isolation } : {});
  const customer = h.double.putCustomer({ metadata: { tenant_id: id } }).id;
  await h.db.pool.query('update public.tenants set stripe_customer_id = $2 where id = $1', [id, customer]);
  const subId = stripeId('sub');
  const metadata = { tenant_id: id, plan: 'pro', interval: 'month' };
  const sub = (opts: SubscriptionObjectOptions = {}) =>
    subscriptionObject({ id: subId, customer, priceId: PRICE.proMonth, metadata, currentPeriodStart: 1_900_000_000, ...opts });
  /** Makes `opts` the subscription's current state in Stripe (what a re-read returns). */
  const putInStripe = (opts: SubscriptionObjectOptions = {}) =>
    h.double.putSubscription({ id: subId, customer, priceId: PRICE.proMonth, metadata, currentPeriodStart: 1_900_000_000, ...opts });
  const invoice = (status: 'paid' | 'open', created: number) => invoiceObject({ customer, subscriptionId: subId, status, created });
  return { id, made, customer, subId, sub, putInStripe, invoice };
}

// Billing changes the registry row, whatever the tier; the plan's limits then
// hold in the tenant's data wherever it is (a database tenant's copy of its
// plan follows through tenant_changed, within the notification's round trip).
describe.each(['pooled', 'database'] as const)('a %s tenant', (isolation) => {
  it("moves to the subscribed plan, and the new plan's limits hold in its data", async () => {
    const t = await billedTenant(`billed-${isolation}`, isolation);
    const as = (fn: (c: Client) => Promise<unknown>) => withTenantData(h.srv.ctx, tenantPlacementOf(t.made.tenant), t.made.ownerId, fn);
    await as((c) => c.query(`insert into channels (name) select 'c' || g from generate_series(1, 5) g`));
    await expect(as((c) => c.query(`insert into channels (name) values ('sixth')`))).rejects.toMatchObject({ code: 'SA429' });

    await deliverOk(h, buildEvent('customer.subscription.created', t.sub({ status: 'active' })));
    expect((await billingState(h, t.id)).plan).toBe('pro');
    // Refused (and nothing written) until the plan reaches the tenant's data; then admitted.
    await vi.waitFor(() => as((c) => c.query(`insert into channels (name) values ('sixth')`)), { timeout: 10_000, interval: 50 });
    expect(await as(async (c) => (await c.query('select count(*)::int as n from channels')).rows[0].n)).toBe(6);
  });
});

describe('signature', () => {
  it('rejects a wrong secret, a stale timestamp, a body changed after signing and a missing header, storing nothing', async () => {
    const t = await billedTenant('sigs');
    const before = await billingState(h, t.id);
    const event = buildEvent('customer.subscription.created', t.sub({ status: 'active' }));

    const attempts = [
      await deliver(h, event, { secret: 'whsec_somebody_else' }),
      await deliver(h, event, { timestamp: nowSeconds() - 301 }),
      await deliver(h, event, {
        tamper: (p) => {
          const changed = p.replace('"status": "active"', '"status": "canceled"');
          if (changed === p) throw new Error('nothing to tamper with');
          return changed;
        },
      }),
      await deliver(h, event, { tamper: (p) => `${p} ` }),
    ];
    attempts.push(await request(h.srv.url, '/api/billing/webhook', { rawBody: JSON.stringify(event) }));
    for (const res of attempts) {
      expect(res.status, res.text).toBe(400);
      expect(res.body.error?.code).toBe('INVALID_SIGNATURE');
    }
    expect(await storedEvents(h, event.id)).toEqual([]);
    expect(await billingState(h, t.id)).toEqual(before);

    // The control: the same event, signed and untouched, is accepted and applied.
    expect((await deliver(h, event)).status).toBe(202);
    expect(await storedEvents(h, event.id)).toHaveLength(1);
    await runDueJobs(h.srv.ctx);
    expect((await billingState(h, t.id)).plan).toBe('pro');
  });

  it('accepts a signature made within the tolerance and refuses a signed body that is not JSON', async () => {
    const t = await billedTenant('tolerance');
    const res = await deliver(h, buildEvent('customer.subscription.created', t.sub()), { timestamp: nowSeconds() - 200 });
    expect(res.status, res.text).toBe(202);
    const notJson = await deliver(h, 'this is not json');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error?.code).toBe('MALFORMED_JSON');
  });
});

describe('exactly once', () => {
  it('stores an event delivered 5 times concurrently once, processes it once, and acknowledges later copies without effect', async () => {
    const t = await billedTenant('concurrent');
    const event = buildEvent('customer.subscription.created', t.sub({ status: 'trialing' }), { created: nowSeconds() - 60 });
    const results = await Promise.all([1, 2, 3, 4, 5].map(() => deliver(h, event)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 202]);
    const statuses = results.map((r) => r.body.status).sort();
    expect(statuses).toEqual(['duplicate', 'duplicate', 'duplicate', 'duplicate', 'stored']);
    // Stored is not applied: the tenant changes when the job runner runs.
    expect(await storedEvents(h, event.id)).toEqual([
      { event_id: event.id, type: 'customer.subscription.created', tenant_id: null, processed: false, attempts: 0, error: null },
    ]);
    expect((await billingState(h, t.id)).stripe_subscription_id).toBeNull();
    await Promise.all([runDueJobs(h.srv.ctx), runDueJobs(h.srv.ctx)]);
    expect(await outcomeOf(h, event.id)).toEqual({ status: 'processed', tenantId: t.id });
    expect(await storedEvents(h, event.id)).toEqual([
      { event_id: event.id, type: 'customer.subscription.created', tenant_id: t.id, processed: true, attempts: 1, error: null },
    ]);
    expect(await billingState(h, t.id)).toMatchObject({ plan: 'pro', status: 'trial', subscription_status: 'trialing' });

    // The tenant moves on; a late copy of the old event changes nothing.
    await deliverOk(h, buildEvent('customer.subscription.updated', t.sub({ status: 'active' }), { created: nowSeconds() - 30 }));
    const again = await deliver(h, event);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ status: 'duplicate' });
    await runDueJobs(h.srv.ctx);
    expect(await billingState(h, t.id)).toMatchObject({ status: 'active', subscription_status: 'active' });
    expect((await storedEvents(h, event.id))[0]?.attempts).toBe(1);
  });
});

describe('order of delivery', () => {
  it('ends in the same state whether events arrive in order or reversed', async () => {
    const sequence = (t: Awaited<ReturnType<typeof billedTenant>>, base: number) => {
      const trialEnd = base + 14 * DAY;
      const afterTrial = { currentPeriodStart: trialEnd, currentPeriodEnd: trialEnd + 30 * DAY, overrides: { trial_end: trialEnd } };
      return [
        buildEvent('customer.subscription.created', t.sub({ status: 'trialing', currentPeriodStart: base, currentPeriodEnd: trialEnd }), {
          created: base,
        }),
        buildEvent('customer.subscription.updated', t.sub({ status: 'active', ...afterTrial }), { created: base + 10 }),
        buildEvent('invoice.payment_failed', t.invoice('open', base + 20), { created: base + 20 }),
        buildEvent('invoice.paid', t.invoice('paid', base + 30), { created: base + 30 }),
        buildEvent('customer.subscription.updated', t.sub({ status: 'active', cancelAtPeriodEnd: true, ...afterTrial }), {
          created: base + 40,
        }),
      ];
    };
    const base = nowSeconds() - 3600;
    const inOrder = await billedTenant('in-order');
    const reversed = await billedTenant('reversed');
    for (const e of sequence(inOrder, base)) await deliverOk(h, e);
    for (const e of sequence(reversed, base).reverse()) await deliverOk(h, e);

    const a = await billingState(h, inOrder.id);
    const b = await billingState(h, reversed.id);
    const comparable = (s: typeof a) => ({ ...s, stripe_customer_id: undefined, stripe_subscription_id: undefined });
    expect(comparable(b)).toEqual(comparable(a));
    expect(a).toMatchObject({
      plan: 'pro',
      status: 'active',
      subscription_status: 'active',
      cancel_at_period_end: true,
      past_due_since: null,
      grace_ends_at: null,
      billing_interval: 'month',
    });
    expect(a.last_payment_at).toEqual(at(base + 30));
    expect(a.subscription_state_at).toEqual(at(base + 40));
    expect(a.trial_ends_at).toEqual(at(base + 14 * DAY));
  });

  it('settles two conflicting states from the same second by reading the subscription from Stripe', async () => {
    const t = await billedTenant('same-second');
    const second = nowSeconds() - 100;
    t.putInStripe({ status: 'active' }); // what Stripe holds now
    await deliverOk(h, buildEvent('customer.subscription.updated', t.sub({ status: 'active' }), { created: second }));
    expect(h.double.requests.filter((r) => r.method === 'GET')).toHaveLength(0);
    await deliverOk(h, buildEvent('customer.subscription.updated', t.sub({ status: 'past_due' }), { created: second }));
    expect(h.double.requests.filter((r) => r.method === 'GET' && r.path === `/v1/subscriptions/${t.subId}`)).toHaveLength(1);
    expect(await billingState(h, t.id)).toMatchObject({ subscription_status: 'active', past_due_since: null });
  });

  it('ignores late events of a subscription the tenant has replaced', async () => {
    const t = await billedTenant('replaced');
    const base = nowSeconds() - 1000;
    const old = t.sub({ status: 'canceled' });
    h.double.putSubscription({ id: t.subId, customer: t.customer, status: 'canceled', priceId: PRICE.proMonth });
    await deliverOk(h, buildEvent('customer.subscription.created', t.sub({ status: 'active' }), { created: base }));
    await deliverOk(h, buildEvent('customer.subscription.deleted', old, { created: base + 10 }));
    expect(await billingState(h, t.id)).toMatchObject({ plan: 'free', subscription_status: 'canceled' });

    const newId = stripeId('sub');
    const fresh = subscriptionObject({
      id: newId,
      customer: t.customer,
      status: 'active',
      priceId: PRICE.enterpriseMonth,
      metadata: { tenant_id: t.id },
    });
    await deliverOk(h, buildEvent('customer.subscription.created', fresh, { created: base + 20 }));
    expect(await billingState(h, t.id)).toMatchObject({ plan: 'enterprise', stripe_subscription_id: newId, subscription_status: 'active' });

    // Late news about the old subscription, including a failed invoice of it (which is re-read: canceled).
    const late = await deliverOk(h, buildEvent('customer.subscription.updated', t.sub({ status: 'active' }), { created: base + 5 }));
    expect(late.status).toBe('ignored');
    const oldInvoice = await deliverOk(h, buildEvent('invoice.payment_failed', t.invoice('open', base + 30), { created: base + 30 }));
    expect(oldInvoice.status).toBe('ignored');
    expect(await billingState(h, t.id)).toMatchObject({
      plan: 'enterprise',
      stripe_subscription_id: newId,
      subscription_status: 'active',
      past_due_since: null,
    });
  });
});

describe('failure and retry', () => {
  it('leaves the tenant unchanged and the event retryable when processing fails midway; the retry succeeds', async () => {
    const t = await billedTenant('retry');
    t.putInStripe({ status: 'active' });
    const before = await billingState(h, t.id);
    // invoice.paid first records the payment, then reads the subscription the tenant does not hold yet: that read fails.
    const event = buildEvent('invoice.paid', t.invoice('paid', nowSeconds() - 50), { created: nowSeconds() - 50 });
    h.double.failNext('GET', '/v1/subscriptions/', 500);

    // Stored is received: the failure happens in the job runner, never in the answer to Stripe.
    const received = await deliver(h, event);
    expect(received.status).toBe(202);
    expect(received.text).not.toMatch(/Injected|double|sk_test/i);
    await runDueJobs(h.srv.ctx);
    expect(await billingState(h, t.id)).toEqual(before); // last_payment_at written before the failure is rolled back too
    const [stored] = await storedEvents(h, event.id);
    expect(stored).toMatchObject({ processed: false, attempts: 1, tenant_id: null });
    expect(stored?.error).toMatch(/Injected failure/);

    // A copy from Stripe is a duplicate; the retry job applies the event once its backoff has passed.
    expect((await deliver(h, event)).body).toMatchObject({ status: 'duplicate' });
    expect(await retryFailedEvents(h.srv.ctx, new Date(Date.now() + 2 * 60_000), 10)).toEqual({ retried: 1, recovered: 1 });
    expect(await outcomeOf(h, event.id)).toEqual({ status: 'processed', tenantId: t.id });
    const after = await billingState(h, t.id);
    expect(after).toMatchObject({ plan: 'pro', status: 'active', subscription_status: 'active', stripe_subscription_id: t.subId });
    expect(after.last_payment_at).not.toBeNull();
    expect(await storedEvents(h, event.id)).toEqual([
      { event_id: event.id, type: 'invoice.paid', tenant_id: t.id, processed: true, attempts: 2, error: null },
    ]);
  });

  it('is taken again by the applier itself a second after a failure, and left to the retry job after its own attempts', async () => {
    const t = await billedTenant('quick-retry');
    t.putInStripe({ status: 'active' });
    const event = buildEvent('invoice.paid', t.invoice('paid', nowSeconds() - 40), { created: nowSeconds() - 40 });
    // Each failed attempt's second has passed, and the applier's own retry is due now.
    // Triggers off for the move: the timestamps trigger would set updated_at to now again.
    const secondLater = () =>
      withoutTriggers(h.db.pool, async (client) => {
        await client.query(`update public.stripe_webhooks set updated_at = updated_at - interval '1 minute' where event_id = $1`, [
          event.id,
        ]);
        await client.query('update graphile_worker._private_jobs set run_at = now() where locked_at is null');
      });
    const retryQueued = async () =>
      (
        await h.db.pool.query(
          `select 1 from graphile_worker._private_jobs j join graphile_worker._private_tasks t on t.id = j.task_id
            where t.identifier = 'billing.apply-events' and j.key = 'billing.apply-events:retry'`,
        )
      ).rowCount;

    h.double.failNext('GET', '/v1/subscriptions/', 500);
    h.double.failNext('GET', '/v1/subscriptions/', 500);
    expect((await deliver(h, event)).status).toBe(202);
    await runDueJobs(h.srv.ctx);
    expect(await storedEvents(h, event.id)).toMatchObject([{ processed: false, attempts: 1 }]);
    expect(await retryQueued()).toBe(1);
    // Not before its second: a run of the applier now leaves it alone.
    await runDueJobs(h.srv.ctx);
    expect(await storedEvents(h, event.id)).toMatchObject([{ processed: false, attempts: 1 }]);

    await secondLater();
    await runDueJobs(h.srv.ctx);
    expect(await storedEvents(h, event.id)).toMatchObject([{ processed: false, attempts: 2 }]);
    await secondLater();
    await runDueJobs(h.srv.ctx);
    expect(await outcomeOf(h, event.id)).toEqual({ status: 'processed', tenantId: t.id });
    expect(await storedEvents(h, event.id)).toMatchObject([{ processed: true, attempts: 3, error: null }]);
    expect(await retryQueued()).toBe(0);

    // An event that failed the applier's every attempt waits for billing.retry-failed-events.
    const late = buildEvent('invoice.paid', t.invoice('paid', nowSeconds() - 30), { created: nowSeconds() - 30 });
    await h.db.pool.query(
      `insert into public.stripe_webhooks (event_id, type, livemode, payload, event_created_at, attempts, error, updated_at)
       values ($1, 'invoice.paid', false, $2, now(), $3, 'failed before', now() - interval '1 hour')`,
      [late.id, JSON.stringify(late), APPLIER_ATTEMPTS],
    );
    await runDueJobs(h.srv.ctx);
    expect(await storedEvents(h, late.id)).toMatchObject([{ processed: false, attempts: APPLIER_ATTEMPTS }]);
  });

  it('links a completed checkout to its tenant by client_reference_id and reads the subscription', async () => {
    const { id } = await tenantWithOwner(h, 'linked');
    const customer = h.double.putCustomer({}).id;
    const sub = h.double.putSubscription({ customer, status: 'trialing', priceId: PRICE.proYear, metadata: { tenant_id: id } });
    const session = checkoutSessionObject({ customer, subscription: sub.id, clientReferenceId: id });
    h.double.failNext('GET', '/v1/subscriptions/', 503);
    const event = buildEvent('checkout.session.completed', session);
    expect((await deliver(h, event)).status).toBe(202);
    await runDueJobs(h.srv.ctx);
    expect((await storedEvents(h, event.id))[0]).toMatchObject({ processed: false, attempts: 1 });
    expect(await billingState(h, id)).toMatchObject({ plan: 'free', stripe_customer_id: null, stripe_subscription_id: null });

    await retryFailedEvents(h.srv.ctx, new Date(Date.now() + 2 * 60_000), 10);
    expect(await outcomeOf(h, event.id)).toMatchObject({ status: 'processed', tenantId: id });
    expect(await billingState(h, id)).toMatchObject({
      plan: 'pro',
      status: 'trial',
      stripe_customer_id: customer,
      stripe_subscription_id: sub.id,
      billing_interval: 'year',
    });
  });
});

describe('events that concern no tenant', () => {
  it('stores and acknowledges them without changing anything', async () => {
    const unhandled = buildEvent('customer.created', { id: stripeId('cus'), object: 'customer' });
    expect(await deliverOk(h, unhandled)).toMatchObject({ status: 'ignored', tenantId: null });
    const stranger = buildEvent('invoice.paid', invoiceObject({ customer: stripeId('cus'), subscriptionId: null, status: 'paid' }));
    expect(await deliverOk(h, stranger)).toMatchObject({ status: 'ignored', tenantId: null });
    for (const e of [unhandled, stranger]) {
      expect(await storedEvents(h, e.id)).toEqual([
        { event_id: e.id, type: e.type, tenant_id: null, processed: true, attempts: 1, error: null },
      ]);
    }
    // The whole event is kept, not only the fields billing reads.
    const updated = buildEvent('customer.subscription.updated', subscriptionObject({ customer: stripeId('cus') }), {
      previousAttributes: { status: 'trialing' },
    });
    await deliverOk(h, updated);
    const { rows } = await h.db.pool.query<{ payload: unknown }>('select payload from public.stripe_webhooks where event_id = $1', [
      updated.id,
    ]);
    expect(rows[0]?.payload).toEqual(JSON.parse(JSON.stringify(updated)));
  });
});

describe('the applier', () => {
  it('walks a backlog of several pages of one second, ids of four and five digits, and applies every event', async () => {
    // Ids 9,901 to 10,200: compared as text, 10,000 and up would sort first and a page's cursor skip the rest.
    await h.db.pool.query(
      `select setval(pg_get_serial_sequence('public.stripe_webhooks', 'id'), greatest(9900, max(id))) from public.stripe_webhooks`,
    );
    const created = nowSeconds() - 120;
    const events = Array.from({ length: 300 }, () =>
      buildEvent('customer.created', { id: stripeId('cus'), object: 'customer' }, { created }),
    );
    await h.db.pool.query(
      `insert into public.stripe_webhooks (event_id, type, livemode, payload, event_created_at)
       select e->>'id', e->>'type', false, e, to_timestamp($2) from jsonb_array_elements($1::jsonb) e`,
      [JSON.stringify(events), created],
    );
    expect(await applyPendingEvents({ ...h.srv.ctx, stripe: h.srv.ctx.stripe! })).toMatchObject({ ignored: 300, failed: 0 });
    const { rows } = await h.db.pool.query<{ n: number }>(
      `select count(*)::int as n from public.stripe_webhooks where event_id = any($1) and processed and outcome = 'ignored' and attempts = 1`,
      [events.map((e) => e.id)],
    );
    expect(rows[0]?.n).toBe(300);
  });
});
