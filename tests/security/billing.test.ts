// A suspended tenant must be able to pay its way back: billing answers its
// owners on its own host, and nothing else does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../support/http.ts';
import { addMember, hostOf, startBillingHarness, tenantWithOwner, type BillingHarness } from '../billing/harness.ts';

let h: BillingHarness;

beforeAll(async () => {
  h = await startBillingHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('security item 14: billing stays reachable while suspended', () => {
  it("answers the owner's GET /api/billing, checkout and portal on its host; members and every other route are refused", async () => {
    const { id, token } = await tenantWithOwner(h, 'lapsed', { isolation: 'pooled' });
    const member = await addMember(h, id, 'member@lapsed.test', 'member');
    const host = hostOf('lapsed');
    const urls = { successUrl: 'https://lapsed.saas.test/ok', cancelUrl: 'https://lapsed.saas.test/no' };
    // A billing account first, so the portal has a customer.
    expect((await request(h.srv.url, '/api/billing/checkout', { host, token, body: { plan: 'pro', ...urls } })).status).toBe(200);

    await h.db.pool.query(`update public.tenants set status = 'suspended', suspended_at = now() where id = $1`, [id]);
    await expect.poll(async () => (await h.srv.ctx.resolver.byId(id))?.status).toBe('suspended');

    const billing = await request(h.srv.url, '/api/billing', { host, token });
    expect(billing.status, billing.text).toBe(200);
    const portal = await request(h.srv.url, '/api/billing/portal', {
      host,
      token,
      body: { returnUrl: 'https://lapsed.saas.test/settings' },
    });
    expect(portal.status, portal.text).toBe(200);
    const checkout = await request(h.srv.url, '/api/billing/checkout', { host, token, body: { plan: 'pro', ...urls } });
    expect(checkout.status, checkout.text).toBe(200);

    const asMember = await request(h.srv.url, '/api/billing', { host, token: member });
    expect([asMember.status, asMember.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    for (const path of [`/api/tenants/${id}`, `/api/tenants/${id}/usage`]) {
      const res = await request(h.srv.url, path, { host, token });
      expect([path, res.status, res.body.error?.code]).toEqual([path, 403, 'TENANT_SUSPENDED']);
    }
  });
});
