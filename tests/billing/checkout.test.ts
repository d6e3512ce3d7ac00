// Checkout and portal: who may start them, where they may send the customer
// back to, which plans can be bought, one Stripe customer per tenant, and the
// answers when billing or a price is not configured.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { asTenant } from '../../actions-server/src/db/tx.ts';
import { addMember, billingState, hostOf, PRICE, startBillingHarness, tenantWithOwner, type BillingHarness } from './harness.ts';

let h: BillingHarness;
let disabled: RunningServer;
beforeAll(async () => {
  h = await startBillingHarness();
  // The same database served by a process without STRIPE_SECRET_KEY.
  disabled = await startTestServer(h.db);
});
afterAll(async () => {
  await disabled?.close();
  await h?.close();
});
beforeEach(() => {
  h.double.reset();
});

const urls = (slug: string) => ({ successUrl: `https://${slug}.saas.test/billing/ok`, cancelUrl: `https://${slug}.saas.test/billing` });

function checkout(token: string, slug: string, body: Record<string, unknown>, server = h.srv) {
  return request(server.url, '/api/billing/checkout', { host: hostOf(slug), token, body });
}

describe('checkout', () => {
  it('refuses redirect URLs outside the tenant, before anything reaches Stripe', async () => {
    const { id, token } = await tenantWithOwner(h, 'redir');
    await tenantWithOwner(h, 'neighbour');
    const cases: Record<string, string>[] = [
      { successUrl: 'https://evil.example.com/ok' },
      { successUrl: 'https://neighbour.saas.test/ok' },
      { cancelUrl: 'https://redir.saas.test.evil.example/x' },
      { successUrl: 'http://redir.saas.test/ok' }, // plain http outside development
      { successUrl: 'https://user:pw@redir.saas.test/ok' },
      { cancelUrl: 'javascript:alert(1)' },
      { successUrl: 'not a url' },
    ];
    for (const override of cases) {
      const res = await checkout(token, 'redir', { plan: 'pro', ...urls('redir'), ...override });
      expect(res.status, JSON.stringify(override)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.issues[0].path).toBe(Object.keys(override)[0]);
      expect(res.body.error.message).toContain('https://redir.saas.test');
    }
    expect(h.double.requests).toHaveLength(0);
    expect((await billingState(h, id)).stripe_customer_id).toBeNull();
  });

  it('accepts a verified custom domain of the tenant, not an unverified one', async () => {
    const { id, token } = await tenantWithOwner(h, 'branded');
    // A custom domain needs the feature: this tenant has it as an override.
    await h.db.pool.query(`update public.tenant_settings set features = features || '{"custom_domain": true}' where tenant_id = $1`, [id]);
    await h.db.pool.query('update public.tenants set custom_domain = $2 where id = $1', [id, 'billing.branded.example']);
    const body = { plan: 'pro', successUrl: 'https://billing.branded.example/ok', cancelUrl: 'https://branded.saas.test/no' };
    const unverified = await checkout(token, 'branded', body);
    expect(unverified.status).toBe(400);
    await h.db.pool.query('update public.tenants set custom_domain_verified_at = now() where id = $1', [id]);
    const verified = await checkout(token, 'branded', body);
    expect(verified.status, verified.text).toBe(200);
  });

  it('is for owners and admins only', async () => {
    const { id } = await tenantWithOwner(h, 'roles');
    const member = await addMember(h, id, 'member@roles.example.com', 'member');
    const admin = await addMember(h, id, 'admin@roles.example.com', 'admin');
    const refused = await checkout(member, 'roles', { plan: 'pro', ...urls('roles') });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('FORBIDDEN');
    expect(h.double.requests).toHaveLength(0);
    const portal = await request(h.srv.url, '/api/billing/portal', {
      host: hostOf('roles'),
      token: member,
      body: { returnUrl: 'https://roles.saas.test/' },
    });
    expect(portal.status).toBe(403);

    const allowed = await checkout(admin, 'roles', { plan: 'pro', ...urls('roles') });
    expect(allowed.status, allowed.text).toBe(200);
    // A member may still read the billing summary.
    const summary = await request(h.srv.url, '/api/billing', { host: hostOf('roles'), token: member });
    expect(summary.status).toBe(200);
    expect(summary.body.billing).toMatchObject({ plan: 'free', hasBillingAccount: true, subscriptionStatus: null });
  });

  it('refuses plans that are not bought through checkout, and names a missing price variable', async () => {
    const { token } = await tenantWithOwner(h, 'planco');
    const custom = await checkout(token, 'planco', { plan: 'custom', ...urls('planco') });
    expect(custom.status).toBe(400);
    expect(custom.body.error).toMatchObject({ code: 'PLAN_NOT_AVAILABLE', message: expect.stringContaining('sales') });
    const free = await checkout(token, 'planco', { plan: 'free', ...urls('planco') });
    expect(free.status).toBe(400);
    expect(free.body.error.code).toBe('PLAN_NOT_AVAILABLE');
    const unknown = await checkout(token, 'planco', { plan: 'platinum', ...urls('planco') });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('PLAN_NOT_AVAILABLE');
    const unpriced = await checkout(token, 'planco', { plan: 'enterprise', interval: 'year', ...urls('planco') });
    expect(unpriced.status).toBe(400);
    expect(unpriced.body.error).toMatchObject({
      code: 'PLAN_NOT_AVAILABLE',
      message: expect.stringContaining('STRIPE_PRICE_ENTERPRISE_YEARLY'),
      details: { variable: 'STRIPE_PRICE_ENTERPRISE_YEARLY' },
    });
    const badInterval = await checkout(token, 'planco', { plan: 'pro', interval: 'week', ...urls('planco') });
    expect(badInterval.status).toBe(400);
    expect(badInterval.body.error.code).toBe('VALIDATION_FAILED');
    expect(h.double.requests).toHaveLength(0);

    const enterprise = await checkout(token, 'planco', { plan: 'enterprise', interval: 'month', ...urls('planco') });
    expect(enterprise.status, enterprise.text).toBe(200);
    const sent = h.double.requests.find((r) => r.path === '/v1/checkout/sessions');
    expect(sent?.body).toMatchObject({ line_items: [{ price: PRICE.enterpriseMonth }] });
  });

  it('creates exactly one Stripe customer per tenant, even under concurrent checkouts', async () => {
    const { id, token } = await tenantWithOwner(h, 'once');
    const results = await Promise.all([1, 2, 3, 4].map(() => checkout(token, 'once', { plan: 'pro', ...urls('once') })));
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const customerCalls = h.double.requests.filter((r) => r.method === 'POST' && r.path === '/v1/customers');
    expect(customerCalls).toHaveLength(1);
    expect(customerCalls[0]?.idempotencyKey).toBe(`tenant-${id}-customer`);
    const customerId = (await billingState(h, id)).stripe_customer_id;
    const sessions = h.double.requests.filter((r) => r.path === '/v1/checkout/sessions');
    expect(sessions).toHaveLength(4);
    expect(sessions.every((s) => s.body['customer'] === customerId)).toBe(true);
  });

  it('carries a sign-up trial over instead of starting a new one', async () => {
    const { id, token } = await tenantWithOwner(h, 'trialist', { plan: 'pro', trial: true });
    const trialEnds = (await billingState(h, id)).trial_ends_at!;
    const res = await checkout(token, 'trialist', { plan: 'pro', ...urls('trialist') });
    expect(res.status, res.text).toBe(200);
    const sent = h.double.requests.find((r) => r.path === '/v1/checkout/sessions');
    expect(sent?.body['subscription_data']).toMatchObject({ trial_end: String(Math.floor(trialEnds.getTime() / 1000)) });
    expect(sent?.body['subscription_data']).not.toHaveProperty('trial_period_days');
  });

  it('refuses a second subscription while one is live', async () => {
    const { id, token } = await tenantWithOwner(h, 'twice');
    await h.db.pool.query(
      `update public.tenants set stripe_customer_id = 'cus_twice', stripe_subscription_id = 'sub_twice', subscription_status = 'past_due' where id = $1`,
      [id],
    );
    const res = await checkout(token, 'twice', { plan: 'enterprise', ...urls('twice') });
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'CONFLICT', details: { subscriptionStatus: 'past_due' } });
  });

  it('answers 502 without internals when Stripe fails, and keeps the customer for the retry', async () => {
    const { id, token } = await tenantWithOwner(h, 'flaky');
    h.double.failNext('POST', '/v1/checkout/sessions', 500);
    const res = await checkout(token, 'flaky', { plan: 'pro', ...urls('flaky') });
    expect(res.status).toBe(502);
    expect(res.body.error.code).toBe('PAYMENT_PROVIDER_ERROR');
    expect(res.text).not.toMatch(/Injected|sk_test|double/i);
    const customerId = (await billingState(h, id)).stripe_customer_id;
    expect(customerId).toMatch(/^cus_/);

    const retry = await checkout(token, 'flaky', { plan: 'pro', ...urls('flaky') });
    expect(retry.status, retry.text).toBe(200);
    expect(h.double.requests.filter((r) => r.path === '/v1/customers')).toHaveLength(1);
  });
});

describe('portal', () => {
  it('needs a billing account, and returns only to hosts of the tenant', async () => {
    const { token } = await tenantWithOwner(h, 'portal');
    const portal = (returnUrl: string) => request(h.srv.url, '/api/billing/portal', { host: hostOf('portal'), token, body: { returnUrl } });
    const none = await portal('https://portal.saas.test/settings');
    expect(none.status).toBe(409);
    expect(none.body.error.code).toBe('CONFLICT');

    expect((await checkout(token, 'portal', { plan: 'pro', ...urls('portal') })).status).toBe(200);
    const elsewhere = await portal('https://evil.example.com/');
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.error.details.issues[0].path).toBe('returnUrl');

    const ok = await portal('https://portal.saas.test/settings');
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toEqual({ url: expect.stringMatching(/^https:\/\/billing\.stripe\.com\//) });
    const sent = h.double.requests.find((r) => r.path === '/v1/billing_portal/sessions');
    expect(sent?.body).toMatchObject({ return_url: 'https://portal.saas.test/settings' });
  });
});

describe('billing disabled', () => {
  it('answers 503 naming STRIPE_SECRET_KEY on every Stripe-backed route', async () => {
    const { token } = await tenantWithOwner(h, 'nostripe');
    const routes = [
      { path: '/api/billing/checkout', host: hostOf('nostripe'), token, body: { plan: 'pro', ...urls('nostripe') } },
      { path: '/api/billing/portal', host: hostOf('nostripe'), token, body: { returnUrl: 'https://nostripe.saas.test/' } },
      { path: '/api/billing/webhook', rawBody: '{}', headers: { 'stripe-signature': 't=1,v1=00' } },
    ];
    for (const { path, ...opts } of routes) {
      const res = await request(disabled.url, path, opts);
      expect(res.status, path).toBe(503);
      expect(res.body.error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', details: { variable: 'STRIPE_SECRET_KEY' } });
      expect(res.body.error.message).toContain('STRIPE_SECRET_KEY');
    }
    // The plan and its features are still there to read.
    const summary = await request(disabled.url, '/api/billing', { host: hostOf('nostripe'), token });
    expect(summary.status).toBe(200);
    expect(summary.body.billing.features).toEqual({ basic: true });
    expect(summary.body.billing.enabled).toBe(false);
  });

  it('checks the caller before the configuration: a member asking for checkout is refused 403, not told billing is off', async () => {
    const { id } = await tenantWithOwner(h, 'nostripe2');
    const member = await addMember(h, id, 'member@nostripe2.example.com', 'member');
    const res = await request(disabled.url, '/api/billing/checkout', {
      host: hostOf('nostripe2'),
      token: member,
      body: { plan: 'pro', ...urls('nostripe2') },
    });
    expect(res.status).toBe(403);
  });
});

describe('features and billing columns', () => {
  it('merges plan features with per-tenant overrides in one SQL function, scoped by RLS', async () => {
    const { id, token } = await tenantWithOwner(h, 'featured');
    const other = await tenantWithOwner(h, 'unfeatured');
    await h.db.pool.query(`update public.tenants set plan = 'pro' where id = $1`, [id]);
    await h.db.pool.query(
      `update public.tenant_settings set features = '{"sso": true, "analytics": false, "note": "x"}' where tenant_id = $1`,
      [id],
    );

    const res = await request(h.srv.url, '/api/billing', { host: hostOf('featured'), token });
    expect(res.body.billing.features).toEqual({ basic: true, analytics: false, integrations: true, sso: true });

    const has = (tenantId: string, feature: string) =>
      asTenant(h.db.pool, { tenantId: other.id, dbRole: 'app' }, async (c) => {
        const own = await c.query<{ v: boolean }>('select public.tenant_has_feature($1, $2) as v', [tenantId, feature]);
        return own.rows[0]!.v;
      });
    // As the other tenant, this tenant's features are invisible (RLS): never true.
    expect(await has(id, 'sso')).toBe(false);
    expect(await has(other.id, 'basic')).toBe(true);
    const asOwner = await h.db.pool.query<{ sso: boolean; analytics: boolean; note: boolean }>(
      `select public.tenant_has_feature($1, 'sso') as sso, public.tenant_has_feature($1, 'analytics') as analytics,
              public.tenant_has_feature($1, 'note') as note`,
      [id],
    );
    expect(asOwner.rows[0]).toEqual({ sso: true, analytics: false, note: false });
  });

  it('never lets app or hasura write billing columns or read stored webhooks', async () => {
    const { id } = await tenantWithOwner(h, 'locked');
    for (const column of ['plan', 'stripe_customer_id', 'subscription_status', 'grace_ends_at', 'billing_suspended']) {
      const err = await asTenant(h.db.pool, { tenantId: id, dbRole: 'app' }, (c) =>
        c.query(`update public.tenants set ${column} = default where id = $1`, [id]),
      ).catch((e: { code?: string }) => e);
      expect((err as { code?: string }).code, column).toBe('42501');
    }
    for (const role of ['app', 'hasura']) {
      const err = await asTenant(h.db.pool, { tenantId: id, dbRole: role }, (c) => c.query('select * from public.stripe_webhooks')).catch(
        (e: { code?: string }) => e,
      );
      expect((err as { code?: string }).code, role).toBe('42501');
    }
    // The app does read its own tenant's billing state.
    const own = await asTenant(h.db.pool, { tenantId: id, dbRole: 'app' }, (c) =>
      c.query('select plan, subscription_status from public.tenants where id = $1', [id]),
    );
    expect(own.rows).toEqual([{ plan: 'free', subscription_status: null }]);
  });
});
