// Managing a subscription without the portal (change of plan with proration,
// cancel, resume; REST and Hasura actions), and a closed tenant stops paying:
// a soft delete cancels its subscription at Stripe, a hard delete deletes its
// Stripe customer. Through the real SDK against the Stripe double.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.ts';
import { buildEvent, nowSeconds, subscriptionObject } from '../support/stripe-events.ts';
import { JOBS } from '../../actions-server/src/jobs/registry.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { hardDeleteTenant } from '../../actions-server/src/tenants/service.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { addMember, billingState, deliverOk, hostOf, PRICE, startBillingHarness, tenantWithOwner, type BillingHarness } from './harness.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';

const ACTIONS_SECRET = 'actions-secret-0123456789abcdef';
let h: BillingHarness;
beforeAll(async () => {
  h = await startBillingHarness({ ACTIONS_SECRET });
});
afterAll(async () => {
  await h?.close();
});

/** A tenant holding a live subscription at the double (linked the way its created event links it). */
async function subscribed(slug: string, plan: 'pro' | 'enterprise' = 'pro') {
  const t = await tenantWithOwner(h, slug);
  const customer = h.double.putCustomer({ metadata: { tenant_id: t.id } });
  const sub = h.double.putSubscription({
    customer: customer.id,
    priceId: plan === 'pro' ? PRICE.proMonth : PRICE.enterpriseMonth,
    metadata: { tenant_id: t.id, plan, interval: 'month' },
    created: nowSeconds() - 60,
  });
  await deliverOk(h, buildEvent('customer.subscription.created', sub, { created: nowSeconds() - 60 }));
  expect(await billingState(h, t.id)).toMatchObject({ plan, subscription_status: 'active', stripe_subscription_id: sub.id });
  return { ...t, customerId: customer.id, subscriptionId: sub.id };
}

const post = (path: string, slug: string, token: string, body: unknown = {}) =>
  request(h.srv.url, `/api/billing/${path}`, { host: hostOf(slug), token, body });

describe('change of plan', () => {
  it('moves the subscription to the new price with proration, and the tenant with it; its webhook then changes nothing', async () => {
    const t = await subscribed('changer');
    const res = await post('change-plan', 'changer', t.token, { plan: 'pro', interval: 'year' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.billing).toMatchObject({ plan: 'pro', interval: 'year', subscriptionStatus: 'active' });
    const call = h.double.requests.find((r) => r.method === 'POST' && r.path === `/v1/subscriptions/${t.subscriptionId}`);
    expect(call?.body).toMatchObject({ items: [{ price: PRICE.proYear }], proration_behavior: 'create_prorations' });
    expect(
      h.double
        .prorations()
        .filter((i) => i['subscription'] === t.subscriptionId)
        .map((i) => i['price']),
    ).toEqual([PRICE.proMonth, PRICE.proYear]);
    const { subscription_state_at: _at, ...before } = await billingState(h, t.id);
    const after = h.double.objects.get(t.subscriptionId)!;
    await deliverOk(h, buildEvent('customer.subscription.updated', after));
    const { subscription_state_at: _later, ...now } = await billingState(h, t.id);
    expect(now).toEqual(before);

    const up = await post('change-plan', 'changer', t.token, { plan: 'enterprise', interval: 'monthly' });
    expect(up.status, up.text).toBe(200);
    expect(await billingState(h, t.id)).toMatchObject({ plan: 'enterprise', billing_interval: 'month' });
  });

  it('refuses bad input with nothing changed: unknown plan or interval 400, the current plan 409, a member 403', async () => {
    const t = await subscribed('picky');
    const before = await billingState(h, t.id);
    const calls = h.double.requests.length;
    for (const [body, status, code] of [
      [{ plan: 'gold', interval: 'month' }, 400, 'PLAN_NOT_AVAILABLE'],
      [{ plan: 'pro', interval: 'weekly' }, 400, 'VALIDATION_FAILED'],
      [{ plan: 'free' }, 400, 'PLAN_NOT_AVAILABLE'],
      [{ plan: 'pro', interval: 'month' }, 409, 'CONFLICT'],
    ] as const) {
      const res = await post('change-plan', 'picky', t.token, body);
      expect([res.status, res.body.error?.code], JSON.stringify(body)).toEqual([status, code]);
    }
    const memberToken = await addMember(h, t.id, 'member@picky.example.com', 'member');
    expect((await post('change-plan', 'picky', memberToken, { plan: 'pro', interval: 'year' })).status).toBe(403);
    expect(h.double.requests.length).toBe(calls);
    expect(await billingState(h, t.id)).toEqual(before);
  });

  it('refuses a downgrade the current usage does not fit, listing each limit', async () => {
    const t = await subscribed('grown', 'enterprise');
    const made = await h.db.pool.query('select * from public.tenants where id = $1', [t.id]);
    await withTenantData(h.db, tenantPlacementOf(made.rows[0]), t.made.ownerId, (c) =>
      c.query(`insert into channels (name) select 'c' || g from generate_series(1, 51) g`),
    );
    const res = await post('change-plan', 'grown', t.token, { plan: 'pro', interval: 'month' });
    expect(res.status).toBe(409);
    expect(res.body.error.details).toEqual({ plan: 'pro', limits: [{ limit: 'channels', usage: 51, max: 50 }] });
    expect((await billingState(h, t.id)).plan).toBe('enterprise');
  });
});

describe('cancel and resume', () => {
  it('cancels at period end, resumes, then cancels at once (free plan, still active); each refused when it makes no sense', async () => {
    const t = await subscribed('leaver');
    const cancel = await post('cancel', 'leaver', t.token, { atPeriodEnd: true });
    expect(cancel.status, cancel.text).toBe(200);
    expect(cancel.body.billing).toMatchObject({ cancelAtPeriodEnd: true, plan: 'pro' });
    expect(h.double.objects.get(t.subscriptionId)?.['cancel_at_period_end']).toBe(true);
    expect((await post('cancel', 'leaver', t.token, { atPeriodEnd: true })).status).toBe(409);

    const resume = await post('resume', 'leaver', t.token);
    expect(resume.status, resume.text).toBe(200);
    expect(resume.body.billing).toMatchObject({ cancelAtPeriodEnd: false });
    expect((await post('resume', 'leaver', t.token)).status).toBe(409);

    const now = await post('cancel', 'leaver', t.token, { atPeriodEnd: false });
    expect(now.status, now.text).toBe(200);
    expect(h.double.objects.get(t.subscriptionId)?.['status']).toBe('canceled');
    expect(await billingState(h, t.id)).toMatchObject({ plan: 'free', status: 'active', subscription_status: 'canceled' });
    expect((await post('cancel', 'leaver', t.token, {})).status).toBe(409);
  });

  it('answers 409 to cancel with no subscription, and 400 to a malformed body', async () => {
    const t = await tenantWithOwner(h, 'never-paid');
    const res = await post('cancel', 'never-paid', t.token, {});
    expect([res.status, res.body.error.code]).toEqual([409, 'CONFLICT']);
    expect((await post('cancel', 'never-paid', t.token, { atPeriodEnd: 'soon' })).status).toBe(400);
  });

  it('works as Hasura actions with the role from the session', async () => {
    const t = await subscribed('via-hasura');
    const act = (name: string, input: Record<string, unknown>, role = 'owner') =>
      request(h.srv.url, '/hasura/actions', {
        headers: { 'X-Actions-Secret': ACTIONS_SECRET },
        body: {
          action: { name },
          input,
          session_variables: { 'x-hasura-role': role, 'x-hasura-tenant-id': t.id, 'x-hasura-user-id': t.made.ownerId },
        },
      });
    const changed = await act('changePlan', { plan: 'pro', interval: 'year' });
    expect(changed.status, changed.text).toBe(200);
    expect(changed.body).toMatchObject({ plan: 'pro', interval: 'year', cancelAtPeriodEnd: false });
    expect((await act('cancelSubscription', { atPeriodEnd: null })).body).toMatchObject({ cancelAtPeriodEnd: true });
    expect((await act('resumeSubscription', {})).body).toMatchObject({ cancelAtPeriodEnd: false });
    const refused = await act('changePlan', { plan: 'pro', interval: 'year' });
    expect(refused.body).toMatchObject({ extensions: { code: 'CONFLICT' } });
  });
});

describe('closing a tenant', () => {
  it('soft delete cancels the subscription at Stripe (a queued job), and later events leave the tenant closed', async () => {
    const t = await subscribed('closer');
    const del = await request(h.srv.url, `/api/tenants/${t.id}`, { host: hostOf('closer'), token: t.token, method: 'DELETE' });
    expect(del.status, del.text).toBe(200);
    await runDueJobs(h.srv.ctx, JOBS);
    const sub = h.double.objects.get(t.subscriptionId)!;
    expect(sub['status']).toBe('canceled');
    expect(await billingState(h, t.id)).toMatchObject({ status: 'cancelled', subscription_status: 'canceled', plan: 'free' });
    await deliverOk(h, buildEvent('customer.subscription.deleted', sub));
    expect((await billingState(h, t.id)).status).toBe('cancelled');
    // Running the job again (a retry) changes nothing at Stripe.
    const calls = h.double.requests.filter((r) => r.method === 'DELETE').length;
    await runDueJobs(h.srv.ctx, JOBS);
    expect(h.double.requests.filter((r) => r.method === 'DELETE').length).toBe(calls);
  });

  it('hard delete deletes the Stripe customer (its subscriptions end with it)', async () => {
    const t = await subscribed('eraser');
    await hardDeleteTenant(h.db.pool, t.id, { kind: 'cli' }, h.srv.ctx.deprovisioningSteps);
    await runDueJobs(h.srv.ctx, JOBS);
    expect(h.double.objects.get(t.customerId)).toMatchObject({ deleted: true });
    expect(h.double.objects.get(t.subscriptionId)?.['status']).toBe('canceled');
  });
});

describe('trial notices', () => {
  it('records customer.subscription.trial_will_end once as a notice the owner reads', async () => {
    const t = await tenantWithOwner(h, 'trialist', { plan: 'pro', trial: true });
    const trialEnd = nowSeconds() + 3 * 86_400;
    const sub = subscriptionObject({
      status: 'trialing',
      priceId: PRICE.proMonth,
      metadata: { tenant_id: t.id, plan: 'pro', interval: 'month' },
      overrides: { trial_end: trialEnd },
    });
    const event = buildEvent('customer.subscription.trial_will_end', sub);
    await deliverOk(h, event);
    await deliverOk(h, buildEvent('customer.subscription.trial_will_end', sub));
    const res = await request(h.srv.url, '/api/billing', { host: hostOf('trialist'), token: t.token });
    expect(res.status, res.text).toBe(200);
    expect(res.body.billing.notices).toEqual([
      {
        kind: 'billing.trial_will_end',
        message: expect.stringContaining(new Date(trialEnd * 1000).toISOString().slice(0, 10)),
        data: { subscriptionId: sub.id, trialEndsAt: new Date(trialEnd * 1000).toISOString() },
        createdAt: expect.any(String),
      },
    ]);
  });
});
