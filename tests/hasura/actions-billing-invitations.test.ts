// The billing and invitation actions, in the payload shape of hasura/README.md §1,
// against the Stripe double: the same services as the REST routes, with the
// role taken from session_variables (and re-checked against the database).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { startStripeDouble, type StripeDouble } from '../support/stripe-double.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { billingEnv } from '../billing/harness.ts';

const SECRET = 'actions-secret-0123456789abcdef';

let db: TestDb;
let stripe: StripeDouble;
let srv: RunningServer;
let t: MadeTenant;
let memberId: string;

beforeAll(async () => {
  db = await createTestDb();
  stripe = await startStripeDouble();
  srv = await startTestServer(db, { ...billingEnv(stripe), ACTIONS_SECRET: SECRET });
  t = await makeTenant(db, 'acme');
  memberId = (
    await db.pool.query<{ id: string }>(`insert into public.identities (email, name) values ('m@acme.example.com', 'M') returning id`)
  ).rows[0]!.id;
  await db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'member')`, [t.tenant.id, memberId]);
});
afterAll(async () => {
  await srv?.close();
  await stripe?.close();
  await db?.close();
});

type Reply = Record<string, unknown> & { message?: string; extensions?: { code: string } };
function act(name: string, input: Record<string, unknown>, session: Record<string, string>) {
  return request<Reply>(srv.url, '/hasura/actions', {
    headers: { 'X-Actions-Secret': SECRET },
    body: { action: { name }, input, session_variables: session, request_query: `mutation { ${name} { __typename } }` },
  });
}
const owner = () => ({ 'x-hasura-role': 'owner', 'x-hasura-tenant-id': t.tenant.id, 'x-hasura-user-id': t.ownerId });
const member = () => ({ 'x-hasura-role': 'member', 'x-hasura-tenant-id': t.tenant.id, 'x-hasura-user-id': memberId });
const anonymous = () => ({ 'x-hasura-role': 'anonymous', 'x-hasura-tenant-id': t.tenant.id });

describe('billing actions', () => {
  const urls = { successUrl: 'https://acme.saas.test/billing/ok', cancelUrl: 'https://acme.saas.test/billing' };

  it('refuses members, before anything reaches Stripe', async () => {
    const res = await act('createCheckoutSession', { plan: 'pro', interval: null, ...urls }, member());
    expect(res.status).toBe(403);
    expect(res.body.extensions?.code).toBe('FORBIDDEN');
    expect(stripe.requests).toHaveLength(0);
  });

  it('has no portal before a billing account exists', async () => {
    const res = await act('createPortalSession', { returnUrl: 'https://acme.saas.test/settings' }, owner());
    expect(res.status).toBe(409);
    expect(res.body.extensions?.code).toBe('CONFLICT');
  });

  it("starts a checkout for the session's tenant, then opens its portal", async () => {
    const res = await act('createCheckoutSession', { plan: 'pro', interval: 'month', ...urls }, owner());
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ sessionId: expect.stringMatching(/^cs_/), url: expect.any(String) });
    const created = stripe.requests.find((r) => r.path === '/v1/checkout/sessions');
    expect(created?.body['client_reference_id']).toBe(t.tenant.id);
    const portal = await act('createPortalSession', { returnUrl: 'https://acme.saas.test/settings' }, owner());
    expect(portal.status, portal.text).toBe(200);
    expect(portal.body['url']).toEqual(expect.any(String));
  });

  it('keeps redirects on the tenant’s own addresses', async () => {
    const res = await act('createPortalSession', { returnUrl: 'https://evil.example.com/' }, owner());
    expect(res.status).toBe(400);
    expect(res.body.extensions?.code).toBe('VALIDATION_FAILED');
  });
});

describe('invitation actions', () => {
  it('invites, and the invitee accepts anonymously on the tenant address with a new account', async () => {
    const invited = await act('inviteMember', { email: 'new@acme.example.com', role: 'admin' }, owner());
    expect(invited.status, invited.text).toBe(200);
    expect(invited.body['invitation']).toMatchObject({
      email: 'new@acme.example.com',
      role: 'admin',
      status: 'pending',
      tenantId: t.tenant.id,
    });
    const token = invited.body['token'] as string;

    const accepted = await act('acceptInvitation', { token, name: 'New Person', password: 'a-good-password' }, anonymous());
    expect(accepted.status, accepted.text).toBe(200);
    expect(accepted.body).toMatchObject({ tenantId: t.tenant.id, role: 'admin' });
    expect(srv.ctx.tokens.verify(accepted.body['token'] as string)).toMatchObject({ tenantId: t.tenant.id, role: 'admin' });
    const again = await act('acceptInvitation', { token, name: 'New Person', password: 'a-good-password' }, anonymous());
    expect(again.status).toBe(409);
  });

  it('refuses members, and revokes for owners', async () => {
    expect((await act('inviteMember', { email: 'x@acme.example.com', role: null }, member())).status).toBe(403);
    const invited = await act('inviteMember', { email: 'later@acme.example.com' }, owner());
    const id = (invited.body['invitation'] as { id: string }).id;
    expect((await act('revokeInvitation', { invitationId: id }, member())).status).toBe(403);
    const revoked = await act('revokeInvitation', { invitationId: id }, owner());
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.body).toMatchObject({ id, status: 'revoked' });
    const late = await act('acceptInvitation', { token: invited.body['token'], name: 'L', password: 'a-good-password' }, anonymous());
    expect(late.status).toBe(410);
    expect(late.body.extensions?.code).toBe('INVITATION_REVOKED');
  });

  it('needs the tenant address to accept', async () => {
    const res = await act('acceptInvitation', { token: 'whatever' }, { 'x-hasura-role': 'anonymous' });
    expect(res.status).toBe(404);
    expect(res.body.extensions?.code).toBe('TENANT_NOT_FOUND');
  });
});
