// Invitations: invite, list, revoke, accept (new account, signed in, or with
// the account's password), and every way an acceptance is refused.
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { asTenant } from '../../actions-server/src/db/tx.ts';
import { auditRows, sqlState } from '../audit/helpers.ts';
import { asPersona, type Persona } from '../support/personas.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';

let acme: MadeTenant;
let beta: MadeTenant;
let acmeOwnerToken: string;
let betaOwnerToken: string;

const ACME = 'acme.saas.test';
const BETA = 'beta.saas.test';

async function invite(token: string, tenantId: string, email: string, role?: string) {
  return request(fx.srv.url, `/api/tenants/${tenantId}/invitations`, { host: ACME, token, body: { email, ...(role ? { role } : {}) } });
}

async function inviteToAcme(email: string, role?: string): Promise<{ id: string; token: string }> {
  const res = await invite(acmeOwnerToken, acme.tenant.id, email, role);
  expect(res.status, res.text).toBe(201);
  return { id: res.body.invitation.id, token: res.body.token };
}

function accept(host: string, body: Record<string, unknown>, token?: string) {
  return request(fx.srv.url, '/api/invitations/accept', { host, body, ...(token ? { token } : {}) });
}

async function login(host: string, email: string, password: string): Promise<string> {
  const res = await request(fx.srv.url, '/api/auth/login', { host, body: { email, password } });
  expect(res.status, res.text).toBe(200);
  return res.body.token;
}

async function invitationRow(id: string) {
  return (await fx.db.pool.query('select * from public.tenant_invitations where id = $1', [id])).rows[0];
}

async function membersOf(t: MadeTenant, identityId: string): Promise<number> {
  return withTenantData(
    fx.db.pool,
    tenantPlacementOf(t.tenant),
    undefined,
    async (c) => (await c.query('select count(*)::int as n from members where identity_id = $1', [identityId])).rows[0].n,
  );
}

const fx = useTestServer();
beforeAll(async () => {
  acme = await makeTenant(fx.db, 'acme');
  beta = await makeTenant(fx.db, 'beta');
  acmeOwnerToken = await login(ACME, acme.ownerEmail, OWNER_PASSWORD);
  betaOwnerToken = await login(BETA, beta.ownerEmail, OWNER_PASSWORD);
});

describe('the happy path', () => {
  it('invites, lists, and lets a new person accept by creating an account', async () => {
    const sent = await invite(acmeOwnerToken, acme.tenant.id, 'Bob@Example.com');
    expect(sent.status, sent.text).toBe(201);
    const { token } = sent.body;
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(32);
    expect(sent.body.invitation).toMatchObject({ email: 'bob@example.com', role: 'member', status: 'pending' });
    const ttl = new Date(sent.body.invitation.expiresAt).getTime() - new Date(sent.body.invitation.createdAt).getTime();
    expect(Math.round(ttl / 86_400_000)).toBe(7);

    // Only the hash is stored.
    const stored = await invitationRow(sent.body.invitation.id);
    expect(stored.token_hash.equals(createHash('sha256').update(token).digest())).toBe(true);
    expect(JSON.stringify(stored)).not.toContain(token);

    const listed = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations`, { host: ACME, token: acmeOwnerToken });
    expect(listed.status).toBe(200);
    expect(listed.body.invitations.map((i: { id: string }) => i.id)).toContain(sent.body.invitation.id);
    expect(JSON.stringify(listed.body)).not.toContain(token);

    const res = await accept(ACME, { token, name: 'Bob', password: 'bobs password 1' });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ tenantId: acme.tenant.id, role: 'member', token: expect.any(String) });
    const bobId: string = res.body.userId;

    const membership = await fx.db.pool.query('select role from public.memberships where tenant_id = $1 and identity_id = $2', [
      acme.tenant.id,
      bobId,
    ]);
    expect(membership.rows).toEqual([{ role: 'member' }]);
    expect(await membersOf(acme, bobId)).toBe(1);
    expect(await invitationRow(sent.body.invitation.id)).toMatchObject({ accepted_by: bobId, accepted_at: expect.any(Date) });
    // The session works on the tenant's address, and so does a fresh login.
    const me = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, { host: ACME, token: res.body.token });
    expect(me.status).toBe(200);
    await login(ACME, 'bob@example.com', 'bobs password 1');

    const after = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations`, { host: ACME, token: acmeOwnerToken });
    expect(after.body.invitations.map((i: { id: string }) => i.id)).not.toContain(sent.body.invitation.id);

    // Audited: the invitation (token hash redacted), the new membership by the new member, the acceptance.
    const trail = (await auditRows(fx.db.pool, acme.tenant.id)).filter(
      (r) => r.entity_id === sent.body.invitation.id || r.entity_id === bobId,
    );
    expect(trail.map((r) => r.action)).toEqual(['invitation.created', 'membership.added', 'invitation.accepted']);
    expect(trail[0]!.new_values).toMatchObject({ email: 'bob@example.com', token_hash: '[redacted]' });
    expect(trail[0]!.actor_id).toBe(acme.ownerId);
    expect(trail[1]).toMatchObject({ actor_kind: 'user', actor_id: bobId, ip: expect.any(String) });
  });

  it('lets an existing person accept signed in with a token of another tenant, or with their password', async () => {
    // beta's owner joins acme, proving who they are with their beta session.
    const first = await inviteToAcme(beta.ownerEmail, 'admin');
    const signedIn = await accept(ACME, { token: first.token }, betaOwnerToken);
    expect(signedIn.status, signedIn.text).toBe(200);
    expect(signedIn.body).toMatchObject({ userId: beta.ownerId, role: 'admin' });

    // Another existing account, no session: its password proves it.
    const carol = await makeTenant(fx.db, 'carol-co', { email: 'carol@example.com' });
    const second = await inviteToAcme('carol@example.com');
    const noProof = await accept(ACME, { token: second.token });
    expect(noProof.status).toBe(401);
    expect(noProof.body.error.code).toBe('UNAUTHENTICATED');
    const wrong = await accept(ACME, { token: second.token, password: 'not the password' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('INVALID_CREDENTIALS');
    const right = await accept(ACME, { token: second.token, password: OWNER_PASSWORD });
    expect(right.status, right.text).toBe(200);
    expect(right.body.userId).toBe(carol.ownerId);
    expect(await membersOf(acme, carol.ownerId)).toBe(1);
  });
});

describe('refusals', () => {
  it('refuses a second use of a token', async () => {
    const { token } = await inviteToAcme('dave@example.com');
    expect((await accept(ACME, { token, name: 'Dave', password: 'daves password' })).status).toBe(200);
    const again = await accept(ACME, { token, name: 'Mallory', password: 'mallorys password' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVITATION_USED');
  });

  it('lets exactly one of several concurrent acceptances win', async () => {
    const { id, token } = await inviteToAcme('erin@example.com');
    const results = await Promise.all(Array.from({ length: 5 }, () => accept(ACME, { token, name: 'Erin', password: 'erins password' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const loser of results.filter((r) => r.status !== 200)) {
      expect([loser.status, loser.body.error.code]).toEqual([409, 'INVITATION_USED']);
    }
    const identities = await fx.db.pool.query(`select id from public.identities where email = 'erin@example.com'`);
    expect(identities.rowCount).toBe(1);
    const memberships = await fx.db.pool.query('select 1 from public.memberships where identity_id = $1', [identities.rows[0].id]);
    expect(memberships.rowCount).toBe(1);
    expect((await invitationRow(id)).accepted_by).toBe(identities.rows[0].id);
  });

  it('refuses an expired invitation, and the cleanup job deletes it', async () => {
    const { id, token } = await inviteToAcme('frank@example.com');
    await fx.db.pool.query(`update public.tenant_invitations set expires_at = now() - interval '1 minute' where id = $1`, [id]);
    const res = await accept(ACME, { token, name: 'Frank', password: 'franks password' });
    expect(res.status).toBe(410);
    expect(res.body.error.code).toBe('INVITATION_EXPIRED');
    const listed = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations`, { host: ACME, token: acmeOwnerToken });
    expect(listed.body.invitations.map((i: { id: string }) => i.id)).not.toContain(id);

    const { expireInvitations } = await import('../../actions-server/src/invitations/service.ts');
    expect(await expireInvitations(fx.srv.ctx)).toBeGreaterThanOrEqual(1);
    expect(await invitationRow(id)).toBeUndefined();
    const gone = await accept(ACME, { token, name: 'Frank', password: 'franks password' });
    expect(gone.body.error.code).toBe('INVITATION_INVALID');
    const deletion = (await auditRows(fx.db.pool, acme.tenant.id)).find((r) => r.entity_id === id && r.action === 'invitation.deleted');
    expect(deletion).toMatchObject({ actor_kind: 'cron' });
  });

  it("refuses an invitation opened on another tenant's address, and leaves it usable", async () => {
    const { id, token } = await inviteToAcme('grace@example.com');
    const res = await accept(BETA, { token, name: 'Grace', password: 'graces password' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('INVITATION_WRONG_TENANT');
    expect((await invitationRow(id)).accepted_at).toBeNull();
    expect((await fx.db.pool.query(`select 1 from public.identities where email = 'grace@example.com'`)).rowCount).toBe(0);
    const platform = await accept('', { token, name: 'Grace', password: 'graces password' });
    expect(platform.status).toBe(404);
    expect(platform.body.error.code).toBe('TENANT_NOT_FOUND');
  });

  it('refuses a guessed, tampered or malformed token alike', async () => {
    const { token } = await inviteToAcme('heidi@example.com');
    const tampered = `${token.slice(0, 20)}${token[20] === 'A' ? 'B' : 'A'}${token.slice(21)}`;
    for (const candidate of [randomBytes(32).toString('base64url'), tampered, token.slice(0, 42), 'x', `${token}=`]) {
      const res = await accept(ACME, { token: candidate, name: 'Heidi', password: 'heidis password' });
      expect([res.status, res.body.error.code], candidate).toEqual([404, 'INVITATION_INVALID']);
    }
    expect((await accept(ACME, { token, name: 'Heidi', password: 'heidis password' })).status).toBe(200);
  });

  it('refuses a revoked invitation; inviting again replaces the open one', async () => {
    const first = await inviteToAcme('ivan@example.com');
    const second = await inviteToAcme('ivan@example.com');
    const replaced = await accept(ACME, { token: first.token, name: 'Ivan', password: 'ivans password' });
    expect([replaced.status, replaced.body.error.code]).toEqual([410, 'INVITATION_REVOKED']);

    const revoke = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations/${second.id}`, {
      host: ACME,
      token: acmeOwnerToken,
      method: 'DELETE',
    });
    expect(revoke.status, revoke.text).toBe(200);
    expect(revoke.body.invitation.status).toBe('revoked');
    const res = await accept(ACME, { token: second.token, name: 'Ivan', password: 'ivans password' });
    expect([res.status, res.body.error.code]).toEqual([410, 'INVITATION_REVOKED']);
    const unknown = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations/${beta.tenant.id}`, {
      host: ACME,
      token: acmeOwnerToken,
      method: 'DELETE',
    });
    expect(unknown.status).toBe(404);
  });

  it('refuses an acceptance signed in as someone other than the invited address', async () => {
    const { id, token } = await inviteToAcme('judy@example.com');
    const res = await accept(ACME, { token }, betaOwnerToken);
    expect([res.status, res.body.error.code]).toEqual([403, 'INVITATION_EMAIL_MISMATCH']);
    expect((await invitationRow(id)).accepted_at).toBeNull();
  });

  it('refuses to invite an existing member', async () => {
    const res = await invite(acmeOwnerToken, acme.tenant.id, acme.ownerEmail);
    expect([res.status, res.body.error.code]).toEqual([409, 'ALREADY_MEMBER']);
  });

  it('refuses an acceptance past the plan users limit and leaves nothing behind', async () => {
    const small = await makeTenant(fx.db, 'small'); // free: 10 users, the owner is the first
    const ownerToken = fx.srv.ctx.tokens.sign({ userId: small.ownerId, tenantId: small.tenant.id, role: 'owner' }).token;
    const placement = tenantPlacementOf(small.tenant);
    await withTenantData(fx.db.pool, placement, small.ownerId, async (c) => {
      for (let i = 1; i <= 9; i++) await c.query('insert into members (display_name) values ($1)', [`Seat ${i}`]);
    });
    const sent = await request(fx.srv.url, `/api/tenants/${small.tenant.id}/invitations`, {
      host: 'small.saas.test',
      token: ownerToken,
      body: { email: 'eleventh@example.com' },
    });
    expect(sent.status, sent.text).toBe(201);
    const res = await accept('small.saas.test', { token: sent.body.token, name: 'Eleven', password: 'elevens password' });
    expect([res.status, res.body.error?.code], res.text).toEqual([429, 'QUOTA_EXCEEDED']);
    expect((await fx.db.pool.query(`select 1 from public.identities where email = 'eleventh@example.com'`)).rowCount).toBe(0);
    expect(
      (await fx.db.pool.query('select count(*)::int as n from public.memberships where tenant_id = $1', [small.tenant.id])).rows[0].n,
    ).toBe(1);
    expect((await invitationRow(sent.body.invitation.id)).accepted_at).toBeNull();
  });
});

// Acceptance writes the registry (main database) and the tenant's own members
// table, wherever its tier keeps it: the pooled tables, or its own database.
describe.each(['pooled', 'database'] as const)('for a %s tenant', (isolation) => {
  let t: MadeTenant;
  let ownerToken: string;
  const host = () => `${t.tenant.slug}.saas.test`;
  const sendInvite = async (email: string) => {
    const sent = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/invitations`, { host: host(), token: ownerToken, body: { email } });
    expect(sent.status, sent.text).toBe(201);
    return sent.body as { token: string; invitation: { id: string } };
  };
  const members = async (identityId?: string) =>
    withTenantData(fx.db, tenantPlacementOf(t.tenant), t.ownerId, async (c) =>
      identityId === undefined
        ? (await c.query('select count(*)::int as n from members')).rows[0].n
        : (await c.query('select count(*)::int as n from members where identity_id = $1', [identityId])).rows[0].n,
    );

  beforeAll(async () => {
    t = await makeTenant(fx.db, `invited-${isolation}`, { isolation });
    ownerToken = fx.srv.ctx.tokens.sign({ userId: t.ownerId, tenantId: t.tenant.id, role: 'owner' }).token;
  });

  it("adds the membership and the person's members row", async () => {
    const { token } = await sendInvite(`dana-${isolation}@example.com`);
    const res = await accept(host(), { token, name: 'Dana', password: 'danas password 1' });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ tenantId: t.tenant.id, role: 'member' });
    expect(
      (
        await fx.db.pool.query('select role from public.memberships where tenant_id = $1 and identity_id = $2', [
          t.tenant.id,
          res.body.userId,
        ])
      ).rows,
    ).toEqual([{ role: 'member' }]);
    expect(await members(res.body.userId)).toBe(1);
  });

  it('refuses an acceptance past the users limit and leaves nothing behind, in either database', async () => {
    // The owner and Dana are two of the free plan's ten.
    await withTenantData(fx.db, tenantPlacementOf(t.tenant), t.ownerId, async (c) => {
      for (let i = 3; i <= 10; i++) await c.query('insert into members (display_name) values ($1)', [`Seat ${i}`]);
    });
    const sent = await sendInvite(`eleventh-${isolation}@example.com`);
    const res = await accept(host(), { token: sent.token, name: 'Eleven', password: 'elevens password' });
    expect([res.status, res.body.error?.code], res.text).toEqual([429, 'QUOTA_EXCEEDED']);
    expect(
      (await fx.db.pool.query('select 1 from public.identities where email = $1', [`eleventh-${isolation}@example.com`])).rowCount,
    ).toBe(0);
    expect(
      (await fx.db.pool.query('select count(*)::int as n from public.memberships where tenant_id = $1', [t.tenant.id])).rows[0].n,
    ).toBe(2);
    expect((await invitationRow(sent.invitation.id)).accepted_at).toBeNull();
    expect(await members()).toBe(10);
  });
});

describe('resend', () => {
  const resend = (id: string, token = acmeOwnerToken) =>
    request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations/${id}/resend`, { host: ACME, token, method: 'POST' });

  it('replaces the token and the expiry of an open or expired invitation; the old token stops working', async () => {
    const first = await inviteToAcme('mallory@example.com');
    await fx.db.pool.query(`update public.tenant_invitations set expires_at = now() - interval '1 minute' where id = $1`, [first.id]);
    const again = await resend(first.id);
    expect(again.status, again.text).toBe(200);
    expect(again.body.invitation).toMatchObject({ email: 'mallory@example.com', role: 'member', status: 'pending' });
    expect(again.body.token).not.toBe(first.token);
    expect(again.body.invitation.id).not.toBe(first.id);
    const old = await accept(ACME, { token: first.token, name: 'Mallory', password: 'mallorys password' });
    expect(old.status).toBe(410);
    expect((await accept(ACME, { token: again.body.token, name: 'Mallory', password: 'mallorys password' })).status).toBe(200);
    // The invitation's life is in the trail, written by the database: the replacement too.
    const trail = (await auditRows(fx.db.pool, acme.tenant.id)).filter((r) => r.entity_id === again.body.invitation.id);
    expect(trail.map((r) => r.action)).toContain('invitation.created');
  });

  it('refuses an accepted or revoked invitation, an unknown one, another tenant and anonymous callers', async () => {
    const used = (await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations`, { host: ACME, token: acmeOwnerToken })).body;
    expect(used.invitations.map((i: { email: string }) => i.email)).not.toContain('mallory@example.com');
    const accepted = (
      await fx.db.pool.query(`select id from public.tenant_invitations where email = 'mallory@example.com' and accepted_at is not null`)
    ).rows[0].id;
    const again = await resend(accepted);
    expect([again.status, again.body.error.code]).toEqual([409, 'INVITATION_USED']);
    const revoked = await inviteToAcme('olivia@example.com');
    await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations/${revoked.id}`, {
      host: ACME,
      token: acmeOwnerToken,
      method: 'DELETE',
    });
    expect((await resend(revoked.id)).body.error.code).toBe('INVITATION_REVOKED');
    expect((await resend(beta.tenant.id)).status).toBe(404);
    expect((await resend('not-a-uuid')).status).toBe(400);
    const open = await inviteToAcme('quentin@example.com');
    expect((await resend(open.id, betaOwnerToken)).status).toBe(403);
    const anonymous = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations/${open.id}/resend`, {
      host: ACME,
      method: 'POST',
    });
    expect(anonymous.status).toBe(401);
  });
});

describe('who may manage invitations', () => {
  let adminToken: string;
  let memberToken: string;

  beforeAll(async () => {
    const admin = await inviteToAcme('admin-kim@example.com', 'admin');
    adminToken = (await accept(ACME, { token: admin.token, name: 'Kim', password: 'kims password' })).body.token;
    const member = await inviteToAcme('member-lou@example.com');
    memberToken = (await accept(ACME, { token: member.token, name: 'Lou', password: 'lous password' })).body.token;
  });

  it('lets admins invite members but only owners invite or revoke admins', async () => {
    expect((await invite(adminToken, acme.tenant.id, 'new-member@example.com')).status).toBe(201);
    const asAdmin = await invite(adminToken, acme.tenant.id, 'new-admin@example.com', 'admin');
    expect([asAdmin.status, asAdmin.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const ownerInvite = await inviteToAcme('other-admin@example.com', 'admin');
    const revoke = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations/${ownerInvite.id}`, {
      host: ACME,
      token: adminToken,
      method: 'DELETE',
    });
    expect(revoke.status).toBe(403);
    const owner = await invite(acmeOwnerToken, acme.tenant.id, 'owner-role@example.com', 'owner');
    expect([owner.status, owner.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });

  it('refuses members, other tenants and anonymous callers', async () => {
    const asMember = await invite(memberToken, acme.tenant.id, 'x@example.com');
    expect([asMember.status, asMember.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const list = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations`, { host: ACME, token: memberToken });
    expect(list.status).toBe(403);
    const otherTenant = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations`, { host: BETA, token: betaOwnerToken });
    expect(otherTenant.status).toBe(403);
    const anonymous = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/invitations`, { host: ACME });
    expect(anonymous.status).toBe(401);
  });

  it("keeps each tenant's invitations to itself in SQL, and token hashes from every request role", async () => {
    const acmeVisible = await asTenant(
      fx.db.pool,
      { tenantId: acme.tenant.id, dbRole: 'app' },
      async (c) => (await c.query('select count(*)::int as n from public.tenant_invitations')).rows[0].n,
    );
    expect(acmeVisible).toBeGreaterThan(0);
    const fromBeta = await asPersona(
      fx.db.pool,
      { kind: 'app', tenantId: beta.tenant.id },
      async (c) =>
        (await c.query('select count(*)::int as n from public.tenant_invitations where tenant_id = $1', [acme.tenant.id])).rows[0].n,
    );
    expect(fromBeta).toBe(0);
    const forged = await sqlState(
      asPersona(fx.db.pool, { kind: 'app', tenantId: beta.tenant.id }, (c) =>
        c.query(`update public.tenant_invitations set revoked_at = now() where tenant_id = $1`, [acme.tenant.id]).then((r) => {
          if (r.rowCount !== 0) throw new Error('updated another tenant');
        }),
      ),
    );
    expect(forged).toBeUndefined();
    for (const persona of [
      { kind: 'app', tenantId: acme.tenant.id },
      { kind: 'hasura', app: { tenantId: acme.tenant.id } },
    ] satisfies Persona[]) {
      expect(await sqlState(asPersona(fx.db.pool, persona, (c) => c.query('select token_hash from public.tenant_invitations')))).toBe(
        '42501',
      );
    }
  });
});
