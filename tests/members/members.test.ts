// Member management: the persona matrix over every action (REST), the rule the
// database enforces for every path (REST, Hasura, SQL as app), the last owner,
// removal in every tier, ownership transfer, pagination, and the same actions
// through Hasura.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { makePerson, roleIn, sessionToken, type Person } from '../support/people.ts';
import { auditRows, sqlState } from '../audit/helpers.ts';
import { asPersona, hasuraSession, type Persona } from '../support/personas.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { dispatchAction } from '../../actions-server/src/hasura/actions.ts';
import type { TenantRole } from '../../actions-server/src/auth/tokens.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';

let acme: MadeTenant;
let beta: MadeTenant;
let outsiderToken: string;
let platformToken: string;

const ACME = 'acme.saas.test';

const fx = useTestServer();
beforeAll(async () => {
  acme = await makeTenant(fx.db, 'acme');
  beta = await makeTenant(fx.db, 'beta');
  outsiderToken = await sessionToken(fx.srv, beta.ownerId, beta.tenant.id, 'owner');
  const ops = await makePerson(fx.db, { platformAdmin: true, label: 'ops' });
  platformToken = await sessionToken(fx.srv, ops.id, null, 'platform_admin');
});

const base = (t: MadeTenant = acme) => `/api/tenants/${t.tenant.id}`;

async function memberRows(t: MadeTenant, identityId: string): Promise<number> {
  return withTenantData(fx.db, tenantPlacementOf(t.tenant), undefined, async (c) =>
    Number((await c.query('select count(*) as n from members where identity_id = $1', [identityId])).rows[0].n),
  );
}

async function addMemberRow(t: MadeTenant, p: Person): Promise<void> {
  await withTenantData(fx.db, tenantPlacementOf(t.tenant), undefined, (c) =>
    c.query('insert into members (identity_id, display_name, email) values ($1, $2, $2)', [p.id, p.email]),
  );
}

type PersonaName = 'owner' | 'admin' | 'member' | 'other tenant' | 'anonymous' | 'platform admin';
const PERSONAS: PersonaName[] = ['owner', 'admin', 'member', 'other tenant', 'anonymous', 'platform admin'];

/** A fresh persona: its identity (when it is a member of acme) and its credential. */
async function persona(name: PersonaName): Promise<{ person?: Person; token?: string }> {
  switch (name) {
    case 'owner':
    case 'admin':
    case 'member': {
      const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role: name, label: name });
      return { person, token: await sessionToken(fx.srv, person.id, acme.tenant.id, name) };
    }
    case 'other tenant':
      return { token: outsiderToken };
    case 'platform admin':
      return { token: platformToken };
    case 'anonymous':
      return {};
  }
}

interface Action {
  name: string;
  /** Targets made before the call (fresh per case). */
  target?: TenantRole;
  call(token: string | undefined, target: Person | undefined): Promise<{ status: number; text: string }>;
  /** Whether the action took effect (checked after both answers, so a refusal proves nothing changed). */
  applied(actor: Person | undefined, target: Person | undefined): Promise<boolean>;
}

const send = (method: string, path: string, token: string | undefined, body?: unknown) =>
  request(fx.srv.url, path, { method, host: ACME, ...(token ? { token } : {}), ...(body !== undefined ? { body } : {}) });

const ACTIONS: Record<string, Action> = {
  list: {
    name: 'list members',
    call: (token) => send('GET', `${base()}/members`, token),
    applied: () => Promise.resolve(true),
  },
  promote: {
    name: 'promote a member to admin',
    target: 'member',
    call: (token, t) => send('PATCH', `${base()}/members/${t!.id}`, token, { role: 'admin' }),
    applied: async (_a, t) => (await roleIn(fx.db, acme.tenant.id, t!.id)) === 'admin',
  },
  demote: {
    name: 'demote an admin to member',
    target: 'admin',
    call: (token, t) => send('PATCH', `${base()}/members/${t!.id}`, token, { role: 'member' }),
    applied: async (_a, t) => (await roleIn(fx.db, acme.tenant.id, t!.id)) === 'member',
  },
  removeMember: {
    name: 'remove a member',
    target: 'member',
    call: (token, t) => send('DELETE', `${base()}/members/${t!.id}`, token),
    applied: async (_a, t) => (await roleIn(fx.db, acme.tenant.id, t!.id)) === null,
  },
  removeAdmin: {
    name: 'remove an admin',
    target: 'admin',
    call: (token, t) => send('DELETE', `${base()}/members/${t!.id}`, token),
    applied: async (_a, t) => (await roleIn(fx.db, acme.tenant.id, t!.id)) === null,
  },
  leave: {
    name: 'leave',
    call: (token) => send('POST', `${base()}/members/leave`, token),
    applied: async (a) => a !== undefined && (await roleIn(fx.db, acme.tenant.id, a.id)) === null,
  },
  transfer: {
    name: 'transfer ownership to a member',
    target: 'member',
    call: (token, t) => send('POST', `${base()}/transfer-ownership`, token, { identityId: t!.id }),
    applied: async (_a, t) => (await roleIn(fx.db, acme.tenant.id, t!.id)) === 'owner',
  },
};

// Expected status per action and persona: owner, admin, member, other tenant, anonymous, platform admin.
// (The tenant keeps its original owner throughout, so an owner persona may leave.)
const MATRIX: [keyof typeof ACTIONS, number[]][] = [
  ['list', [200, 200, 200, 403, 401, 403]],
  ['promote', [200, 403, 403, 403, 401, 403]],
  ['demote', [200, 403, 403, 403, 401, 403]],
  ['removeMember', [200, 200, 403, 403, 401, 403]],
  ['removeAdmin', [200, 403, 403, 403, 401, 403]],
  ['leave', [200, 200, 200, 403, 401, 403]],
  ['transfer', [200, 403, 403, 403, 401, 403]],
];

describe('persona matrix (REST)', () => {
  const cases = MATRIX.flatMap(([action, statuses]) => PERSONAS.map((p, i) => ({ action, persona: p, status: statuses[i]! })));
  it.each(cases)('$persona × $action → $status', async ({ action, persona: who, status }) => {
    const a = ACTIONS[action]!;
    const { person, token } = await persona(who);
    const target = a.target ? await makePerson(fx.db, { tenantId: acme.tenant.id, role: a.target, label: 'target' }) : undefined;
    const res = await a.call(token, target);
    expect(res.status, res.text).toBe(status);
    // A refusal changed nothing; a success did what it says (list changes nothing either way).
    if (action !== 'list') expect(await a.applied(person, target)).toBe(status === 200);
  });
});

describe('the rule in the database, for every path', () => {
  const viaHasura = (role: string, userId: string): Persona => ({ kind: 'hasura', session: hasuraSession(role, userId, acme.tenant.id) });
  const setRole = (c: import('pg').PoolClient, id: string, role: string) =>
    c.query('update public.memberships set role = $3 where tenant_id = $1 and identity_id = $2', [acme.tenant.id, id, role]);

  it('security item 7: a tenant_admin cannot promote a member to admin through GraphQL (role hasura with a session) nor as app; an owner can', async () => {
    const admin = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'admin' });
    const member = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    // GraphQL mutation path: Hasura runs it as role hasura with hasura.user set.
    expect(await asPersona(fx.db.pool, viaHasura('tenant_admin', admin.id), (c) => sqlState(setRole(c, member.id, 'admin')))).toBe('SA403');
    // The actions server's path: app acting for the admin.
    const asApp: Persona = { kind: 'app', tenantId: acme.tenant.id, userId: admin.id };
    expect(await asPersona(fx.db.pool, asApp, (c) => sqlState(setRole(c, member.id, 'admin')))).toBe('SA403');
    // Control: the same statement by an owner touches the row (rolled back).
    const byOwner = await asPersona(fx.db.pool, viaHasura('owner', acme.ownerId), (c) => setRole(c, member.id, 'admin'));
    expect(byOwner.rowCount).toBe(1);
    expect(await roleIn(fx.db, acme.tenant.id, member.id)).toBe('member');
  });

  it('a session role is capped by the current one: a demoted owner keeping an owner session is judged as what it is now', async () => {
    const formerOwner = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    const member = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    expect(await asPersona(fx.db.pool, viaHasura('owner', formerOwner.id), (c) => sqlState(setRole(c, member.id, 'admin')))).toBe('SA403');
  });

  it('admins remove members but not admins; members remove nobody but themselves; nobody joins without an invitation', async () => {
    const admin = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'admin' });
    const admin2 = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'admin' });
    const member = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    const stranger = await makePerson(fx.db);
    const del = (c: import('pg').PoolClient, id: string) =>
      c.query('delete from public.memberships where tenant_id = $1 and identity_id = $2', [acme.tenant.id, id]);
    expect(await asPersona(fx.db.pool, viaHasura('tenant_admin', admin.id), (c) => sqlState(del(c, admin2.id)))).toBe('SA403');
    expect((await asPersona(fx.db.pool, viaHasura('tenant_admin', admin.id), (c) => del(c, member.id))).rowCount).toBe(1);
    expect(await asPersona(fx.db.pool, viaHasura('member', member.id), (c) => sqlState(del(c, admin.id)))).toBe('SA403');
    expect((await asPersona(fx.db.pool, viaHasura('member', member.id), (c) => del(c, member.id))).rowCount).toBe(1);
    const join = (c: import('pg').PoolClient) =>
      c.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'owner')`, [acme.tenant.id, stranger.id]);
    expect(await asPersona(fx.db.pool, { kind: 'app', tenantId: acme.tenant.id, userId: stranger.id }, (c) => sqlState(join(c)))).toBe(
      'SA403',
    );
    expect(await asPersona(fx.db.pool, viaHasura('tenant_admin', admin.id), (c) => sqlState(join(c)))).toBe('SA403');
    // Hasura's own admin (console, admin secret) is trusted.
    expect(
      (await asPersona(fx.db.pool, { kind: 'platformAdmin', userId: stranger.id, tenantId: acme.tenant.id }, (c) => join(c))).rowCount,
    ).toBe(1);
  });

  it('nobody removes or demotes the last owner (409 over REST, SA409 for SQL), even the migration owner', async () => {
    const solo = await makeTenant(fx.db, 'solo');
    const token = await sessionToken(fx.srv, solo.ownerId, solo.tenant.id, 'owner');
    const host = 'solo.saas.test';
    const leave = await request(fx.srv.url, `${base(solo)}/members/leave`, { method: 'POST', host, token });
    expect(leave.status, leave.text).toBe(409);
    expect(leave.body.error.code).toBe('LAST_OWNER');
    const demote = await request(fx.srv.url, `${base(solo)}/members/${solo.ownerId}`, {
      method: 'PATCH',
      host,
      token,
      body: { role: 'admin' },
    });
    expect(demote.status).toBe(409);
    expect(await sqlState(fx.db.pool.query('delete from public.memberships where tenant_id = $1', [solo.tenant.id]))).toBe('SA409');
    expect(await roleIn(fx.db, solo.tenant.id, solo.ownerId)).toBe('owner');
  });

  it('two owners demoting each other at the same moment leave one owner', async () => {
    const duo = await makeTenant(fx.db, 'duo');
    const second = await makePerson(fx.db, { tenantId: duo.tenant.id, role: 'owner' });
    const demote = (actor: string, target: string) =>
      sqlState(
        asPersona(
          fx.db.pool,
          { kind: 'app', tenantId: duo.tenant.id, userId: actor },
          (c) => c.query(`update public.memberships set role = 'admin' where tenant_id = $1 and identity_id = $2`, [duo.tenant.id, target]),
          { commit: true },
        ),
      );
    const results = await Promise.all([demote(duo.ownerId, second.id), demote(second.id, duo.ownerId)]);
    const owners = await fx.db.pool.query(`select 1 from public.memberships where tenant_id = $1 and role = 'owner'`, [duo.tenant.id]);
    expect(owners.rowCount).toBe(1);
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
  });
});

describe('removal', () => {
  it.each(['schema', 'pooled', 'database'] as const)(
    "deletes the person from the %s tier's members table too, and is audited",
    async (isolation) => {
      const t = isolation === 'schema' ? acme : await makeTenant(fx.db, `rm-${isolation}`, { isolation });
      const host = `${t.tenant.slug}.saas.test`;
      const gone = await makePerson(fx.db, { tenantId: t.tenant.id, role: 'member' });
      await addMemberRow(t, gone);
      expect(await memberRows(t, gone.id)).toBe(1);
      const ownerToken = await sessionToken(fx.srv, t.ownerId, t.tenant.id, 'owner');
      const res = await request(fx.srv.url, `${base(t)}/members/${gone.id}`, { method: 'DELETE', host, token: ownerToken });
      expect(res.status, res.text).toBe(200);
      expect(res.body.removed).toEqual({ identityId: gone.id, role: 'member' });
      expect(await memberRows(t, gone.id)).toBe(0);
      const entry = (await auditRows(fx.db.pool, t.tenant.id)).find((r) => r.action === 'membership.removed' && r.entity_id === gone.id);
      expect(entry).toMatchObject({ actor_kind: 'user', actor_id: t.ownerId });
    },
  );

  it('frees a seat of the users limit', async () => {
    const users = async () =>
      Number(
        (await fx.db.pool.query(`select usage from public.check_tenant_limits($1) where resource = 'users'`, [acme.tenant.id])).rows[0]
          .usage,
      );
    const before = await users();
    const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    await addMemberRow(acme, person);
    expect(await users()).toBe(before + 1);
    const token = await sessionToken(fx.srv, person.id, acme.tenant.id, 'member');
    expect((await send('POST', `${base()}/members/leave`, token)).status).toBe(200);
    expect(await users()).toBe(before);
  });
});

describe('listing and transfer', () => {
  it('pages through members oldest first and filters by role', async () => {
    const t = await makeTenant(fx.db, 'pages');
    for (let i = 0; i < 4; i++) await makePerson(fx.db, { tenantId: t.tenant.id, role: i % 2 ? 'admin' : 'member' });
    const token = await sessionToken(fx.srv, t.ownerId, t.tenant.id, 'owner');
    const get = (q: string) => request(fx.srv.url, `${base(t)}/members${q}`, { host: 'pages.saas.test', token });
    const first = await get('?limit=2');
    expect(first.status, first.text).toBe(200);
    expect(first.body.members).toHaveLength(2);
    expect(first.body.members[0]).toMatchObject({ identityId: t.ownerId, role: 'owner', email: t.ownerEmail });
    const second = await get(`?limit=2&cursor=${first.body.nextCursor}`);
    const third = await get(`?limit=2&cursor=${second.body.nextCursor}`);
    const ids = [...first.body.members, ...second.body.members, ...third.body.members].map((m: { identityId: string }) => m.identityId);
    expect(new Set(ids).size).toBe(5);
    expect(third.body.nextCursor).toBeNull();
    const admins = await get('?role=admin');
    expect(admins.body.members.map((m: { role: string }) => m.role)).toEqual(['admin', 'admin']);
    expect((await get('?role=boss')).status).toBe(400);
    expect((await get('?cursor=nonsense')).status).toBe(400);
  });

  it('transfers ownership: the target becomes owner, the caller admin; a missing role is a 400 naming it', async () => {
    const t = await makeTenant(fx.db, 'handover');
    const heir = await makePerson(fx.db, { tenantId: t.tenant.id, role: 'member' });
    const token = await sessionToken(fx.srv, t.ownerId, t.tenant.id, 'owner');
    const res = await request(fx.srv.url, `${base(t)}/transfer-ownership`, {
      host: 'handover.saas.test',
      token,
      body: { identityId: heir.id },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.owner).toMatchObject({ identityId: heir.id, role: 'owner' });
    expect(res.body.previousOwner).toMatchObject({ identityId: t.ownerId, role: 'admin' });
    const bad = await request(fx.srv.url, `${base(t)}/members/${heir.id}`, {
      method: 'PATCH',
      host: 'handover.saas.test',
      token,
      body: {},
    });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('role');
  });
});

describe('the same through Hasura actions', () => {
  const act = (name: string, input: Record<string, unknown>, vars: Record<string, string>) =>
    dispatchAction(fx.srv.ctx, { action: { name }, input, session_variables: vars }).then(
      (r) => ({ ok: true as const, r }),
      (e: { code?: string }) => ({ ok: false as const, code: e.code }),
    );
  const vars = (role: string, userId: string) => ({
    'x-hasura-role': role,
    'x-hasura-user-id': userId,
    'x-hasura-tenant-id': acme.tenant.id,
  });

  it('lists, refuses an admin a role change, lets an owner make one, and keeps the last owner', async () => {
    const admin = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'admin' });
    const member = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    const listed = await act('listMembers', { role: 'admin', limit: 100 }, vars('member', member.id));
    expect(listed.ok && (listed.r as { members: { identityId: string }[] }).members.some((m) => m.identityId === admin.id)).toBe(true);
    expect(await act('changeMemberRole', { identityId: member.id, role: 'admin' }, vars('tenant_admin', admin.id))).toEqual({
      ok: false,
      code: 'FORBIDDEN',
    });
    expect((await act('changeMemberRole', { identityId: member.id, role: 'admin' }, vars('owner', acme.ownerId))).ok).toBe(true);
    expect(await roleIn(fx.db, acme.tenant.id, member.id)).toBe('admin');
    expect((await act('removeMember', { identityId: member.id }, vars('owner', acme.ownerId))).ok).toBe(true);
    const solo = await makeTenant(fx.db, 'solo-action');
    expect(
      await act('leaveTenant', {}, { 'x-hasura-role': 'owner', 'x-hasura-user-id': solo.ownerId, 'x-hasura-tenant-id': solo.tenant.id }),
    ).toEqual({ ok: false, code: 'LAST_OWNER' });
  });
});
