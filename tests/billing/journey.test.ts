// The whole subscription lifecycle through HTTP, the real Stripe SDK and the
// Stripe double: checkout -> trial -> active -> payment failed (grace) ->
// suspended by the grace job -> paid (reactivated) -> cancelled (free, active).
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { request } from '../support/http.ts';
import { OWNER_PASSWORD } from '../support/factories.ts';
import { buildEvent, invoiceObject, nowSeconds, subscriptionObject } from '../support/stripe-events.ts';
import { suspendPastDueTenants } from '../../actions-server/src/billing/service.ts';
import {
  at,
  billingState,
  deliverOk,
  hostOf,
  PRICE,
  startBillingHarness,
  storedEvents,
  tenantWithOwner,
  type BillingHarness,
} from './harness.ts';

let h: BillingHarness;
beforeAll(async () => {
  h = await startBillingHarness();
});
afterAll(async () => {
  await h?.close();
});

const DAY = 86_400;

it('takes a tenant from checkout through trial, payment failure, suspension, recovery and cancellation', async () => {
  const { made, id, token } = await tenantWithOwner(h, 'journey');
  const host = hostOf('journey');
  const base = nowSeconds() - 3600; // event times: Stripe's clock, strictly increasing below

  // --- checkout -------------------------------------------------------------------------
  const checkout = await request(h.srv.url, '/api/billing/checkout', {
    host,
    token,
    body: {
      plan: 'pro',
      interval: 'month',
      successUrl: 'https://journey.saas.test/billing/done?session={CHECKOUT_SESSION_ID}',
      cancelUrl: 'https://journey.saas.test/billing',
    },
  });
  expect(checkout.status, checkout.text).toBe(200);
  expect(checkout.body).toEqual({ sessionId: expect.stringMatching(/^cs_/), url: expect.stringMatching(/^https:\/\//) });

  const customerCall = h.double.requests.find((r) => r.method === 'POST' && r.path === '/v1/customers');
  expect(customerCall?.idempotencyKey).toBe(`tenant-${id}-customer`);
  expect(customerCall?.body).toMatchObject({ metadata: { tenant_id: id, tenant_slug: 'journey' } });
  const customerId = (await billingState(h, id)).stripe_customer_id;
  expect(customerId).toMatch(/^cus_/);

  const sessionCall = h.double.requests.find((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions');
  expect(sessionCall?.idempotencyKey).toEqual(expect.any(String));
  expect(sessionCall?.body).toMatchObject({
    mode: 'subscription',
    customer: customerId,
    client_reference_id: id,
    line_items: [{ price: PRICE.proMonth, quantity: '1' }],
    metadata: { tenant_id: id, plan: 'pro', interval: 'month' },
    // Never subscribed before: the plan's 14 trial days.
    subscription_data: { metadata: { tenant_id: id, plan: 'pro', interval: 'month' }, trial_period_days: '14' },
    success_url: 'https://journey.saas.test/billing/done?session={CHECKOUT_SESSION_ID}',
  });
  expect((await billingState(h, id)).plan).toBe('free');

  // --- the customer pays: Stripe completes the session and creates a trialing subscription
  const sessionId = (checkout.body as { sessionId: string }).sessionId;
  const { session, subscription } = h.double.completeCheckoutSession(sessionId);
  const subId = subscription!.id;
  expect(await deliverOk(h, buildEvent('checkout.session.completed', session, { created: base + 10 }))).toMatchObject({
    status: 'processed',
    tenantId: id,
  });
  await deliverOk(h, buildEvent('customer.subscription.created', subscription!, { created: base + 11 }));

  let state = await billingState(h, id);
  expect(state).toMatchObject({
    plan: 'pro',
    status: 'trial',
    stripe_customer_id: customerId,
    stripe_subscription_id: subId,
    subscription_status: 'trialing',
    billing_interval: 'month',
    cancel_at_period_end: false,
    past_due_since: null,
  });
  expect(state.trial_ends_at).toEqual(at(subscription!.trial_end!));
  expect(state.current_period_end).toEqual(at(subscription!.items.data[0]!.current_period_end));

  // --- the trial converts and the first invoice is paid ----------------------------------
  const periodStart = base + 20;
  const active = subscriptionObject({
    id: subId,
    customer: customerId!,
    status: 'active',
    priceId: PRICE.proMonth,
    metadata: subscription!.metadata,
    currentPeriodStart: periodStart,
    currentPeriodEnd: periodStart + 30 * DAY,
  });
  h.double.objects.set(subId, JSON.parse(JSON.stringify(active)));
  await deliverOk(h, buildEvent('customer.subscription.updated', active, { created: base + 20 }));
  const firstInvoice = invoiceObject({ customer: customerId!, subscriptionId: subId, status: 'paid', created: base + 20 });
  await deliverOk(h, buildEvent('invoice.paid', firstInvoice, { created: base + 21 }));

  state = await billingState(h, id);
  expect(state).toMatchObject({ plan: 'pro', status: 'active', subscription_status: 'active' });
  expect(state.current_period_start).toEqual(at(periodStart));
  expect(state.last_payment_at).toEqual(at(base + 20));

  // --- a renewal payment fails: past due, grace period -----------------------------------
  const failed = invoiceObject({ customer: customerId!, subscriptionId: subId, status: 'open', created: base + 30 });
  await deliverOk(h, buildEvent('invoice.payment_failed', failed, { created: base + 30 }));
  state = await billingState(h, id);
  expect(state).toMatchObject({ plan: 'pro', status: 'active', subscription_status: 'past_due' });
  expect(state.past_due_since).toEqual(at(base + 30));
  expect(state.grace_ends_at).toEqual(at(base + 30 + 7 * DAY));

  const summary = await request(h.srv.url, '/api/billing', { host, token });
  expect(summary.status, summary.text).toBe(200);
  expect(summary.body.billing).toMatchObject({
    plan: 'pro',
    subscriptionStatus: 'past_due',
    pastDue: true,
    graceEndsAt: at(base + 30 + 7 * DAY).toISOString(),
  });

  // --- the grace job, on a clock we control ----------------------------------------------
  const graceEnd = state.grace_ends_at!.getTime();
  expect(await suspendPastDueTenants(h.srv.ctx, new Date(graceEnd - 60_000))).toEqual([]);
  expect((await billingState(h, id)).status).toBe('active');
  expect(await suspendPastDueTenants(h.srv.ctx, new Date(graceEnd + 60_000))).toEqual([id]);
  state = await billingState(h, id);
  expect(state).toMatchObject({ status: 'suspended', billing_suspended: true, plan: 'pro' });

  // Resolution answers 403 on its host (the NOTIFY trigger invalidates the resolver cache).
  await vi.waitFor(
    async () => {
      // Billing stays open to the owner (to pay the way back); everything else is refused.
      const res = await request(h.srv.url, `/api/tenants/${id}`, { host, token });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('TENANT_SUSPENDED');
    },
    { timeout: 5_000, interval: 50 },
  );
  const refused = await request(h.srv.url, '/api/auth/login', { host, body: { email: made.ownerEmail, password: OWNER_PASSWORD } });
  expect(refused.status).toBe(403);
  expect(refused.body.error.code).toBe('TENANT_SUSPENDED');

  // --- the invoice is paid: the billing suspension is lifted ------------------------------
  const paid = invoiceObject({ customer: customerId!, subscriptionId: subId, status: 'paid', created: base + 40 });
  await deliverOk(h, buildEvent('invoice.paid', paid, { created: base + 40 }));
  state = await billingState(h, id);
  expect(state).toMatchObject({
    status: 'active',
    plan: 'pro',
    subscription_status: 'active',
    billing_suspended: false,
    suspended_at: null,
    past_due_since: null,
    grace_ends_at: null,
  });
  expect(state.last_payment_at).toEqual(at(base + 40));
  await vi.waitFor(
    async () => {
      const res = await request(h.srv.url, '/api/billing', { host, token });
      expect(res.status).toBe(200);
    },
    { timeout: 5_000, interval: 50 },
  );

  // --- the subscription ends: free plan, tenant still active ------------------------------
  const canceled = subscriptionObject({
    id: subId,
    customer: customerId!,
    status: 'canceled',
    priceId: PRICE.proMonth,
    metadata: subscription!.metadata,
    currentPeriodStart: periodStart,
    currentPeriodEnd: periodStart + 30 * DAY,
  });
  h.double.objects.set(subId, JSON.parse(JSON.stringify(canceled)));
  await deliverOk(h, buildEvent('customer.subscription.deleted', canceled, { created: base + 50 }));
  state = await billingState(h, id);
  expect(state).toMatchObject({ status: 'active', plan: 'free', subscription_status: 'canceled', stripe_subscription_id: subId });

  const after = await request(h.srv.url, '/api/billing', { host, token });
  expect(after.status).toBe(200);
  expect(after.body.billing).toMatchObject({ plan: 'free', subscriptionStatus: 'canceled', pastDue: false, hasBillingAccount: true });
  expect(after.body.billing.features).toEqual({ basic: true });

  // Every event was stored once and processed.
  const events = await storedEvents(h);
  expect(events).toHaveLength(7);
  expect(events.every((e) => e.processed && e.attempts === 1 && e.error === null && e.tenant_id === id)).toBe(true);

  // --- subscribing again: the same customer, and no second trial --------------------------
  h.double.requests.length = 0;
  const again = await request(h.srv.url, '/api/billing/checkout', {
    host,
    token,
    body: { plan: 'pro', interval: 'yearly', successUrl: 'https://journey.saas.test/ok', cancelUrl: 'https://journey.saas.test/no' },
  });
  expect(again.status, again.text).toBe(200);
  expect(h.double.requests.filter((r) => r.path === '/v1/customers')).toHaveLength(0);
  const second = h.double.requests.find((r) => r.path === '/v1/checkout/sessions');
  expect(second?.body).toMatchObject({ customer: customerId, line_items: [{ price: PRICE.proYear }] });
  expect(second?.body['subscription_data']).not.toHaveProperty('trial_period_days');
  expect(second?.body['subscription_data']).not.toHaveProperty('trial_end');
});
