// Proves the Stripe double and the event helpers through the real SDK, so tests built on
// them exercise the same request encoding, error mapping and signature checks as production.
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createStripeClient, parseStripeApiBase } from '../../actions-server/src/billing/stripe-client.ts';
import { parseStripeForm, startStripeDouble, type StripeDouble } from '../support/stripe-double.ts';
import { buildEvent, checkoutSessionObject, invoiceObject, nowSeconds, signEvent, subscriptionObject } from '../support/stripe-events.ts';

const KEY = 'sk_test_double_0123456789';
const WEBHOOK_SECRET = 'whsec_test_double_secret';

let double: StripeDouble;
let stripe: Stripe;

beforeAll(async () => {
  double = await startStripeDouble();
  stripe = createStripeClient(KEY, double.url);
});
afterAll(async () => {
  await double.close();
});
beforeEach(() => {
  double.reset();
});

async function caught(p: Promise<unknown>): Promise<InstanceType<typeof Stripe.errors.StripeError>> {
  try {
    await p;
  } catch (e) {
    if (e instanceof Stripe.errors.StripeError) return e;
    throw e;
  }
  throw new Error('expected the Stripe call to fail');
}

describe('createStripeClient / parseStripeApiBase', () => {
  it('maps a base URL onto host/port/protocol', () => {
    expect(parseStripeApiBase('http://127.0.0.1:12111')).toEqual({ host: '127.0.0.1', port: 12111, protocol: 'http' });
    expect(parseStripeApiBase('https://stripe-mock.internal/')).toEqual({ host: 'stripe-mock.internal', port: 443, protocol: 'https' });
    expect(parseStripeApiBase('http://[::1]:9000')).toEqual({ host: '::1', port: 9000, protocol: 'http' });
  });

  it('rejects malformed bases with a clear error', () => {
    for (const bad of [
      '127.0.0.1:12111',
      'not a url',
      'ftp://127.0.0.1:21',
      'http://127.0.0.1:12111/v1',
      'http://u:p@127.0.0.1:1',
      'http://h:1/?x=1',
    ]) {
      expect(() => parseStripeApiBase(bad), bad).toThrow(/Invalid Stripe API base URL/);
    }
    expect(() => createStripeClient(KEY, 'nope')).toThrow(/Invalid Stripe API base URL "nope"/);
    expect(() => createStripeClient('', double.url)).toThrow(/secret key/);
  });

  it('without a base builds a client for api.stripe.com', () => {
    expect(createStripeClient(KEY)).toBeInstanceOf(Stripe);
    expect(createStripeClient(KEY, '')).toBeInstanceOf(Stripe);
  });
});

describe('form decoding', () => {
  it('decodes brackets, indexed and empty-bracket arrays, and keeps metadata keys as keys', () => {
    expect(parseStripeForm('a[b][0][c]=1&a[b][1][c]=2&expand[]=x&expand[]=y&metadata[0]=zero&metadata[k]=v%20w&q=a+b')).toEqual({
      a: { b: [{ c: '1' }, { c: '2' }] },
      expand: ['x', 'y'],
      metadata: { '0': 'zero', k: 'v w' },
      q: 'a b',
    });
  });
});

describe('Stripe double through the real SDK', () => {
  it('creates one customer per idempotency key and replays the stored answer', async () => {
    const params = { email: 'owner@acme.test', name: 'Acme', metadata: { tenant_id: 't_1' } };
    const first = await stripe.customers.create(params, { idempotencyKey: 'tenant-t_1-customer' });
    const second = await stripe.customers.create(params, { idempotencyKey: 'tenant-t_1-customer' });

    expect(first.id).toMatch(/^cus_/);
    expect(second.id).toBe(first.id);
    expect([...double.objects.values()].filter((o) => o['object'] === 'customer')).toHaveLength(1);
    expect(first).toMatchObject({ object: 'customer', email: 'owner@acme.test', name: 'Acme', metadata: { tenant_id: 't_1' } });

    expect(double.requests).toHaveLength(2);
    for (const r of double.requests) {
      expect(r).toMatchObject({ method: 'POST', path: '/v1/customers', idempotencyKey: 'tenant-t_1-customer' });
      expect(r.stripeVersion).toBe(Stripe.API_VERSION);
      expect(r.body).toEqual({ email: 'owner@acme.test', name: 'Acme', metadata: { tenant_id: 't_1' } });
    }
    expect(JSON.stringify(double.requests)).not.toContain(KEY);

    const fetched = await stripe.customers.retrieve(first.id);
    expect(fetched.id).toBe(first.id);
  });

  it('rejects reuse of an idempotency key with different parameters', async () => {
    await stripe.customers.create({ email: 'a@x.test' }, { idempotencyKey: 'k1' });
    const err = await caught(stripe.customers.create({ email: 'b@x.test' }, { idempotencyKey: 'k1' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err.statusCode).toBe(400);
  });

  it('creates a checkout session carrying nested line_items and subscription_data', async () => {
    const customer = await stripe.customers.create({ metadata: { tenant_id: 't_2' } });
    const session = await stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      client_reference_id: 't_2',
      line_items: [{ price: 'price_pro_monthly', quantity: 1 }],
      subscription_data: { metadata: { tenant_id: 't_2' }, trial_period_days: 14 },
      success_url: 'https://app.test/billing/success',
      cancel_url: 'https://app.test/billing/cancel',
      metadata: { tenant_id: 't_2' },
    });

    expect(session.id).toMatch(/^cs_/);
    expect(session.url).toMatch(/^https:\/\//);
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'subscription',
      status: 'open',
      customer: customer.id,
      client_reference_id: 't_2',
      metadata: { tenant_id: 't_2' },
      success_url: 'https://app.test/billing/success',
      cancel_url: 'https://app.test/billing/cancel',
      subscription: null,
    });

    const recorded = double.requests.find((r) => r.path === '/v1/checkout/sessions');
    expect(recorded?.body).toMatchObject({
      client_reference_id: 't_2',
      line_items: [{ price: 'price_pro_monthly', quantity: '1' }],
      subscription_data: { metadata: { tenant_id: 't_2' }, trial_period_days: '14' },
    });

    // Paying in Checkout creates the subscription from the session's parameters.
    const done = double.completeCheckoutSession(session.id);
    expect(done.session).toMatchObject({ status: 'complete', subscription: done.subscription?.id, url: null });
    const sub = await stripe.subscriptions.retrieve(done.subscription?.id ?? '');
    expect(sub).toMatchObject({ status: 'trialing', customer: customer.id, metadata: { tenant_id: 't_2' } });
    expect(sub.items.data[0]?.price.id).toBe('price_pro_monthly');
  });

  it('refuses a checkout session for an unknown customer like Stripe does', async () => {
    const err = await caught(
      stripe.checkout.sessions.create({ mode: 'subscription', customer: 'cus_missing', line_items: [{ price: 'p', quantity: 1 }] }),
    );
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'customer' });
  });

  it('creates a billing portal session', async () => {
    const customer = await stripe.customers.create({});
    const portal = await stripe.billingPortal.sessions.create({ customer: customer.id, return_url: 'https://app.test/settings' });
    expect(portal.id).toMatch(/^bps_/);
    expect(portal).toMatchObject({ object: 'billing_portal.session', customer: customer.id, return_url: 'https://app.test/settings' });
    expect(portal.url).toMatch(/^https:\/\//);
  });

  it('retrieves, updates and cancels a seeded subscription (periods on items)', async () => {
    const seeded = double.putSubscription({
      customer: 'cus_seeded',
      priceId: 'price_pro_monthly',
      metadata: { tenant_id: 't_3', plan: 'pro' },
      currentPeriodStart: 1_800_000_000,
      currentPeriodEnd: 1_802_592_000,
    });

    const sub = await stripe.subscriptions.retrieve(seeded.id);
    expect(sub).toMatchObject({ id: seeded.id, status: 'active', cancel_at_period_end: false, cancel_at: null });
    expect(sub.items.data[0]).toMatchObject({ current_period_start: 1_800_000_000, current_period_end: 1_802_592_000 });
    expect(sub).not.toHaveProperty('current_period_end');

    const updated = await stripe.subscriptions.update(seeded.id, {
      cancel_at_period_end: true,
      metadata: { plan: '', note: 'leaving' },
    });
    expect(updated).toMatchObject({
      cancel_at_period_end: true,
      cancel_at: 1_802_592_000,
      metadata: { tenant_id: 't_3', note: 'leaving' },
    });
    expect(updated.metadata).not.toHaveProperty('plan');
    expect(double.requests.at(-1)?.body).toEqual({ cancel_at_period_end: 'true', metadata: { plan: '', note: 'leaving' } });

    const canceled = await stripe.subscriptions.cancel(seeded.id);
    expect(canceled).toMatchObject({ status: 'canceled', cancel_at_period_end: false });
    expect(canceled.ended_at).toBeTypeOf('number');
    expect((await stripe.subscriptions.retrieve(seeded.id)).status).toBe('canceled');

    const missing = await caught(stripe.subscriptions.retrieve('sub_missing'));
    expect(missing).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('injects failures that surface as StripeErrors with the right status and code', async () => {
    double.failNext('POST', '/v1/customers', 402, 'card_declined');
    const declined = await caught(stripe.customers.create({ email: 'x@y.test' }));
    expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(declined).toMatchObject({ statusCode: 402, code: 'card_declined' });

    // A 5xx reaches the caller once despite the SDK's default retries, and is not stored
    // under the idempotency key: retrying with the same key then succeeds.
    double.failNext('post', '/v1/checkout', 503);
    const params = { mode: 'subscription' as const, line_items: [{ price: 'price_pro_monthly', quantity: 1 }] };
    const down = await caught(stripe.checkout.sessions.create(params, { idempotencyKey: 'k-retry' }));
    expect(down).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(down.statusCode).toBe(503);
    expect(double.requests.filter((r) => r.path === '/v1/checkout/sessions')).toHaveLength(1);
    const ok = await stripe.checkout.sessions.create(params, { idempotencyKey: 'k-retry' });
    expect(ok.id).toMatch(/^cs_/);
  });

  it('answers unknown routes with 404 and missing keys with 401, in Stripe’s error shape', async () => {
    const unknown = await caught(stripe.rawRequest('GET', '/v1/not_a_resource'));
    expect(unknown).toMatchObject({ statusCode: 404 });

    const anon = await fetch(`${double.url}/v1/customers`, { method: 'POST' });
    expect(anon.status).toBe(401);
    expect(await anon.json()).toMatchObject({ error: { type: 'invalid_request_error', message: expect.any(String) } });

    const wrong = await caught(createStripeClient('pk_test_publishable', double.url).customers.create({}));
    expect(wrong).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    expect(wrong.statusCode).toBe(401);
  });
});

describe('signed webhook events', () => {
  const subscription = subscriptionObject({
    id: 'sub_evt',
    customer: 'cus_evt',
    status: 'past_due',
    priceId: 'price_pro_monthly',
    metadata: { tenant_id: 't_4' },
    currentPeriodStart: 1_800_000_000,
    currentPeriodEnd: 1_802_592_000,
  });

  it('verifies with the SDK and carries the pinned API version and object', () => {
    const event = buildEvent('customer.subscription.updated', subscription, { id: 'evt_1', created: 1_800_000_100 });
    const { payload, header } = signEvent(event, WEBHOOK_SECRET);
    const verified = stripe.webhooks.constructEvent(payload, header, WEBHOOK_SECRET);

    expect(verified).toMatchObject({ id: 'evt_1', object: 'event', type: 'customer.subscription.updated', created: 1_800_000_100 });
    expect(verified.api_version).toBe(Stripe.API_VERSION);
    expect(verified.data.object).toMatchObject({ id: 'sub_evt', status: 'past_due', metadata: { tenant_id: 't_4' } });
    expect(subscription.items.data[0]?.current_period_end).toBe(1_802_592_000);
  });

  it('rejects a tampered body, a wrong secret and a stale timestamp', () => {
    const event = buildEvent('customer.subscription.updated', subscription);
    const { payload, header } = signEvent(event, WEBHOOK_SECRET);
    const verify = (p: string, h: string, s: string) => () => stripe.webhooks.constructEvent(p, h, s);

    expect(verify(payload.replace('past_due', 'active'), header, WEBHOOK_SECRET)).toThrow(Stripe.errors.StripeSignatureVerificationError);
    expect(verify(payload, header, 'whsec_someone_else')).toThrow(Stripe.errors.StripeSignatureVerificationError);

    const stale = signEvent(event, WEBHOOK_SECRET, nowSeconds() - 301);
    expect(verify(stale.payload, stale.header, WEBHOOK_SECRET)).toThrow(/tolerance/i);
    const recent = signEvent(event, WEBHOOK_SECRET, nowSeconds() - 200);
    expect(verify(recent.payload, recent.header, WEBHOOK_SECRET)).not.toThrow();
  });

  it('signs a raw string body byte for byte', () => {
    const raw = JSON.stringify(buildEvent('invoice.paid', invoiceObject({ subscriptionId: 'sub_evt' })));
    const signed = signEvent(raw, WEBHOOK_SECRET);
    expect(signed.payload).toBe(raw);
    expect(stripe.webhooks.constructEvent(signed.payload, signed.header, WEBHOOK_SECRET).type).toBe('invoice.paid');
  });

  it('builds 2026-shaped invoices and completed checkout sessions', () => {
    const invoice = invoiceObject({
      id: 'in_1',
      customer: 'cus_evt',
      subscriptionId: 'sub_evt',
      status: 'paid',
      created: 1_800_000_000,
      amountPaid: 2000,
    });
    expect(invoice).toMatchObject({
      id: 'in_1',
      status: 'paid',
      amount_paid: 2000,
      parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_evt' } },
    });
    expect((invoice as unknown as Record<string, unknown>)['subscription'] ?? null).toBeNull();

    const session = checkoutSessionObject({
      id: 'cs_test_1',
      customer: 'cus_evt',
      subscription: 'sub_evt',
      clientReferenceId: 't_4',
      metadata: { tenant_id: 't_4' },
    });
    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'subscription',
      status: 'complete',
      customer: 'cus_evt',
      subscription: 'sub_evt',
      client_reference_id: 't_4',
      metadata: { tenant_id: 't_4' },
    });
  });
});
