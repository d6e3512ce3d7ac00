// Recovery from Stripe: a dropped webhook is recovered from Stripe's Events API
// through the webhook's own path, exactly once; a replay when Stripe is
// unreachable applies nothing; stored events whose processing failed are
// retried with backoff; a worker that starts replays what it missed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { buildEvent, checkoutSessionObject, invoiceObject, nowSeconds, subscriptionObject } from '../support/stripe-events.ts';
import { replayStart, replayStripeEvents, retryFailedEvents } from '../../actions-server/src/billing/replay.ts';
import { runDueJobs, startJobRunner } from '../../actions-server/src/jobs/runner.ts';
import { toAppError } from '../../actions-server/src/core/errors.ts';
import {
  billingEnv,
  billingState,
  deliver,
  deliverOk,
  PRICE,
  startBillingHarness,
  storedEvents,
  tenantWithOwner,
  type BillingHarness,
  type BillingState,
} from './harness.ts';

let h: BillingHarness;
beforeAll(async () => {
  h = await startBillingHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Three events of one tenant's subscription, Stripe-ordered: created, paid, set to cancel at period end. */
function threeEvents(tenantId: string, t0: number) {
  const customer = h.double.putCustomer({ metadata: { tenant_id: tenantId } });
  const base = {
    customer: customer.id,
    priceId: PRICE.proMonth,
    metadata: { tenant_id: tenantId, plan: 'pro', interval: 'month' },
    created: t0,
  };
  const sub = subscriptionObject({ ...base, currentPeriodStart: t0, currentPeriodEnd: t0 + 30 * 86_400 });
  const cancelling = subscriptionObject({
    ...base,
    id: sub.id,
    currentPeriodStart: t0,
    currentPeriodEnd: t0 + 30 * 86_400,
    cancelAtPeriodEnd: true,
  });
  const invoice = invoiceObject({
    customer: customer.id,
    subscriptionId: sub.id,
    subscriptionMetadata: base.metadata,
    overrides: { status_transitions: { paid_at: t0 + 10, finalized_at: t0 + 5, marked_uncollectible_at: null, voided_at: null } },
  });
  const events = [
    buildEvent('customer.subscription.created', sub, { created: t0 }),
    buildEvent('invoice.paid', invoice, { created: t0 + 10 }),
    buildEvent('customer.subscription.updated', cancelling, { created: t0 + 20, previousAttributes: { cancel_at_period_end: false } }),
  ];
  for (const e of events) h.double.addEvent(e);
  return events;
}

/** What must match between two tenants: everything but their own ids. */
const comparable = ({ stripe_customer_id: _c, stripe_subscription_id: _s, ...rest }: BillingState) => rest;

describe('replay', () => {
  it(
    'recovers a dropped event: the same final state as in-order delivery; a second replay changes nothing',
    { timeout: 150_000 },
    async () => {
      const t0 = nowSeconds() - 600;
      const inOrder = await tenantWithOwner(h, 'in-order');
      const dropped = await tenantWithOwner(h, 'dropped');
      for (const e of threeEvents(inOrder.id, t0)) await deliverOk(h, e);
      const [one, two, three] = threeEvents(dropped.id, t0);
      await deliverOk(h, one!);
      await deliverOk(h, three!);
      expect((await billingState(h, dropped.id)).last_payment_at).toBeNull();

      const report = await replayStripeEvents(h.srv.ctx, new Date((t0 - 1) * 1000));
      // The dropped invoice records its payment; it moves no subscription state (a newer one is held), so it reads as ignored.
      expect(report).toMatchObject({ listed: 6, duplicate: 5, failed: [] });
      expect(report.processed + report.ignored).toBe(1);
      expect((await storedEvents(h, two!.id))[0]).toMatchObject({ processed: true, tenant_id: dropped.id });
      const recovered = await billingState(h, dropped.id);
      expect(comparable(recovered)).toEqual(comparable(await billingState(h, inOrder.id)));
      expect(recovered).toMatchObject({ cancel_at_period_end: true, subscription_status: 'active', plan: 'pro' });

      const auditBefore = (await h.db.pool.query('select count(*) from public.tenant_audit_logs')).rows[0].count;
      // The CLI does the same; nothing is new, so nothing changes.
      const cli = await runCli(h.db, ['billing', 'replay', '--since', new Date((t0 - 1) * 1000).toISOString()], billingEnv(h.double));
      expect(cli.code, cli.stderr).toBe(0);
      expect(JSON.parse(cli.stdout)).toMatchObject({ listed: 6, processed: 0, duplicate: 6 });
      expect(await billingState(h, dropped.id)).toEqual(recovered);
      expect((await h.db.pool.query('select count(*) from public.tenant_audit_logs')).rows[0].count).toBe(auditBefore);
    },
  );

  it('pages through the event list, oldest applied first', async () => {
    const t0 = nowSeconds() - 300;
    const tenant = await tenantWithOwner(h, 'paged');
    const [created, , cancelling] = threeEvents(tenant.id, t0);
    // Events of no tenant of ours fill more than one page.
    for (let i = 0; i < 120; i += 1)
      h.double.addEvent(buildEvent('invoice.paid', invoiceObject({ customer: `cus_unknown${i}` }), { created: t0 + 1 }));
    const report = await replayStripeEvents(h.srv.ctx, new Date(t0 * 1000));
    expect(report.listed).toBe(123);
    expect(report.failed).toEqual([]);
    expect(h.double.requests.filter((r) => r.path === '/v1/events').length).toBeGreaterThanOrEqual(2);
    expect(await billingState(h, tenant.id)).toMatchObject({ cancel_at_period_end: true, subscription_status: 'active' });
    expect((await storedEvents(h, created!.id))[0]?.processed).toBe(true);
    expect((await storedEvents(h, cancelling!.id))[0]?.processed).toBe(true);
  });

  it('applies nothing when Stripe is unreachable, with a clear error', async () => {
    const t0 = nowSeconds() - 200;
    const tenant = await tenantWithOwner(h, 'unreachable');
    threeEvents(tenant.id, t0);
    h.double.failNext('GET', '/v1/events', 503);
    const err = await replayStripeEvents(h.srv.ctx, new Date(t0 * 1000)).catch((e: unknown) => toAppError(e));
    expect(err).toMatchObject({ code: 'PAYMENT_PROVIDER_ERROR', message: expect.stringContaining('nothing was applied') });
    expect(await billingState(h, tenant.id)).toMatchObject({ stripe_subscription_id: null, plan: 'free' });
  });

  it('refuses a malformed --since with exit 2', { timeout: 150_000 }, async () => {
    for (const since of ['2026-13-45T00:00:00Z']) {
      const res = await runCli(undefined, ['billing', 'replay', '--since', since]);
      expect(res.code, since).toBe(2);
      expect(res.stderr).toContain('--since');
    }
  });
});

describe('failed stored events', () => {
  it('are retried once their backoff has passed, and then processed once', async () => {
    const tenant = await tenantWithOwner(h, 'flaky');
    const sub = h.double.putSubscription({ priceId: PRICE.proMonth, metadata: { tenant_id: tenant.id, plan: 'pro', interval: 'month' } });
    const customer = typeof sub.customer === 'string' ? sub.customer : sub.customer.id;
    const session = checkoutSessionObject({
      mode: 'subscription',
      clientReferenceId: tenant.id,
      metadata: { tenant_id: tenant.id },
      customer,
      subscription: sub.id,
    });
    const event = buildEvent('checkout.session.completed', session);
    h.double.failNext('GET', `/v1/subscriptions/${sub.id}`, 500);
    expect((await deliver(h, event)).status).toBe(202);
    await runDueJobs(h.srv.ctx);
    expect((await storedEvents(h, event.id))[0]).toMatchObject({ processed: false, attempts: 1 });

    expect(await retryFailedEvents(h.srv.ctx, new Date(), 10)).toEqual({ retried: 0, recovered: 0 });
    const later = new Date(Date.now() + 2 * 60_000);
    expect(await retryFailedEvents(h.srv.ctx, later, 10)).toEqual({ retried: 1, recovered: 1 });
    expect((await storedEvents(h, event.id))[0]).toMatchObject({ processed: true, attempts: 2 });
    expect(await billingState(h, tenant.id)).toMatchObject({ stripe_subscription_id: sub.id, plan: 'pro' });
    expect(await retryFailedEvents(h.srv.ctx, later, 10)).toEqual({ retried: 0, recovered: 0 });
  });
});

describe('worker start', () => {
  it('replays the window since the newest stored event, bounded', async () => {
    const now = new Date();
    const newest = (await h.db.pool.query('select max(event_created_at) as m from public.stripe_webhooks')).rows[0].m as Date;
    expect(await replayStart(h.srv.ctx, now, 72)).toEqual(newest);
    expect(await replayStart(h.srv.ctx, new Date(newest.getTime() + 100 * 3_600_000), 72)).toEqual(
      new Date(newest.getTime() + 28 * 3_600_000),
    );

    // An event Stripe holds that never reached us, newer than everything stored.
    const tenant = await tenantWithOwner(h, 'missed');
    const [created] = threeEvents(tenant.id, nowSeconds());
    const runner = await startJobRunner(h.srv.ctx);
    try {
      await expect.poll(async () => (await storedEvents(h, created!.id))[0]?.processed, { timeout: 20_000, interval: 200 }).toBe(true);
    } finally {
      await runner.stop();
    }
    expect((await billingState(h, tenant.id)).stripe_subscription_id).toBe(created!.data.object.id);
  });
});
