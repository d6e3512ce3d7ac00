// Sessions that end: rotating refresh tokens (reuse revokes the family),
// logout, logout-all, password change; access ending within 1 s of a removal,
// a demotion, a suspension or a logout on every path (REST, the auth webhook,
// actions), and tenant API keys (shown once, scoped to their tenant, revoked
// within 1 s). Every "within 1 s" is a poll with a 1 s timeout, never a sleep.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request, type HttpResponse } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { startSession } from '../../actions-server/src/auth/sessions.ts';
import { makePerson, PERSON_PASSWORD, sessionToken, type Person } from '../support/people.ts';
import { dispatchAction } from '../../actions-server/src/hasura/actions.ts';

let acme: MadeTenant;
let beta: MadeTenant;
let ownerToken: string;
let platformToken: string;

const ACME = 'acme.saas.test';
const BETA = 'beta.saas.test';
const WITHIN_1S = { timeout: 1000, interval: 20 };

const fx = useTestServer();
beforeAll(async () => {
  // Enterprise: this file makes more calls a minute than the free plan's rate limit allows.
  acme = await makeTenant(fx.db, 'acme', { plan: 'enterprise', trial: true });
  beta = await makeTenant(fx.db, 'beta');
  ownerToken = await sessionToken(fx.srv, acme.ownerId, acme.tenant.id, 'owner');
  const ops = await makePerson(fx.db, { platformAdmin: true, label: 'ops' });
  platformToken = await sessionToken(fx.srv, ops.id, null, 'platform_admin');
});

const login = (email: string, password: string, host = ACME) => request(fx.srv.url, '/api/auth/login', { host, body: { email, password } });
const rest = (token: string, path = `/api/tenants/${acme.tenant.id}`, host = ACME) => request(fx.srv.url, path, { host, token });
const hook = (token: string, host = ACME) =>
  request<Record<string, string>>(fx.srv.url, '/hasura/auth', { body: { headers: { host, authorization: `Bearer ${token}` } } });

describe('refresh tokens', () => {
  it('rotate on every use; a reused one revokes the whole family (401), and its access tokens with it', async () => {
    const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    const first = await login(person.email, PERSON_PASSWORD);
    expect(first.status, first.text).toBe(200);
    expect(first.body).toMatchObject({ expiresIn: 600, role: 'member' });
    expect(first.headers['cache-control']).toBe('no-store');
    const refresh = (refreshToken: string, host = ACME) => request(fx.srv.url, '/api/auth/refresh', { host, body: { refreshToken } });

    const second = await refresh(first.body.refreshToken);
    expect(second.status, second.text).toBe(200);
    expect(second.body.refreshToken).not.toBe(first.body.refreshToken);
    expect((await rest(second.body.token)).status).toBe(200);
    // Stored hashed: the raw token appears nowhere.
    const stored = await fx.db.pool.query(
      `select 1 from public.auth_refresh_tokens where encode(token_hash, 'escape') like '%' || $1 || '%'`,
      [second.body.refreshToken],
    );
    expect(stored.rowCount).toBe(0);

    const reused = await refresh(first.body.refreshToken);
    expect(reused.status).toBe(401);
    expect(reused.body.error.code).toBe('REFRESH_TOKEN_REUSED');
    // The family is gone: the newest refresh token and the access tokens of the session.
    expect((await refresh(second.body.refreshToken)).status).toBe(401);
    expect((await rest(second.body.token)).status).toBe(401);
    expect((await refresh('not-a-token')).status).toBe(401);
  });

  it('is refused on another tenant host and after the membership ends', async () => {
    const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    const session = await startSession(fx.srv.ctx, { userId: person.id, tenantId: acme.tenant.id, role: 'member' });
    expect((await request(fx.srv.url, '/api/auth/refresh', { host: BETA, body: { refreshToken: session.refreshToken } })).status).toBe(403);
    await fx.db.pool.query('delete from public.memberships where tenant_id = $1 and identity_id = $2', [acme.tenant.id, person.id]);
    expect((await request(fx.srv.url, '/api/auth/refresh', { host: ACME, body: { refreshToken: session.refreshToken } })).status).toBe(401);
  });
});

describe('logout, logout-all, password change', () => {
  it('logout ends the session; logout-all ends every session of the person', async () => {
    const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    const a = await sessionToken(fx.srv, person.id, acme.tenant.id, 'member');
    const b = await sessionToken(fx.srv, person.id, acme.tenant.id, 'member');
    const c = await sessionToken(fx.srv, person.id, acme.tenant.id, 'member');
    expect((await request(fx.srv.url, '/api/auth/logout', { method: 'POST', host: ACME, token: a })).status).toBe(200);
    expect((await rest(a)).body.error.code).toBe('SESSION_ENDED');
    expect((await rest(b)).status).toBe(200);
    const all = await request(fx.srv.url, '/api/auth/logout-all', { method: 'POST', host: ACME, token: b });
    expect(all.body.sessionsEnded).toBe(2);
    expect((await rest(b)).status).toBe(401);
    expect((await rest(c)).status).toBe(401);
  });

  it('password change needs the current password, refuses a weak one (400), and ends the other sessions', async () => {
    const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    const current = await sessionToken(fx.srv, person.id, acme.tenant.id, 'member');
    const other = await sessionToken(fx.srv, person.id, acme.tenant.id, 'member');
    const change = (body: unknown) => request(fx.srv.url, '/api/auth/password', { host: ACME, token: current, body });
    expect((await change({ currentPassword: 'wrong-password', newPassword: 'a-brand-new-secret' })).status).toBe(401);
    for (const weak of ['short', 'password123', 'Qwertyuiop']) {
      const res = await change({ currentPassword: PERSON_PASSWORD, newPassword: weak });
      expect(res.status, weak).toBe(400);
      expect(res.body.error.details.issues[0].path).toBe('newPassword');
    }
    const ok = await change({ currentPassword: PERSON_PASSWORD, newPassword: 'a-brand-new-secret' });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.otherSessionsEnded).toBe(1);
    expect((await rest(other)).status).toBe(401);
    expect((await rest(current)).status).toBe(200);
    expect((await login(person.email, 'a-brand-new-secret')).status).toBe(200);
  });

  it('sign-up refuses a common password with 400 naming the field', async () => {
    const res = await request(fx.srv.url, '/api/tenants/create', {
      body: { name: 'Weak', slug: 'weakling', ownerEmail: 'w@weak.example.com', ownerName: 'W', ownerPassword: 'iloveyou1', plan: 'free' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details.issues[0].path).toBe('ownerPassword');
  });
});

/** Polls until the answer says access is gone, failing after 1 s. */
const gone = (probe: () => Promise<boolean>) => vi.waitFor(async () => expect(await probe()).toBe(true), WITHIN_1S);

describe('access ends within 1 s on every path', () => {
  interface Change {
    name: string;
    /** Role the person starts with, and the probe route for REST (needing that role). */
    role: 'admin' | 'member';
    apply(person: Person, token: string): Promise<unknown>;
    undo?(): Promise<unknown>;
  }
  const CHANGES: Change[] = [
    {
      name: 'removal from the tenant',
      role: 'member',
      apply: (p) =>
        request(fx.srv.url, `/api/tenants/${acme.tenant.id}/members/${p.id}`, { method: 'DELETE', host: ACME, token: ownerToken }),
    },
    {
      name: 'demotion (admin to member)',
      role: 'admin',
      apply: (p) =>
        request(fx.srv.url, `/api/tenants/${acme.tenant.id}/members/${p.id}`, {
          method: 'PATCH',
          host: ACME,
          token: ownerToken,
          body: { role: 'member' },
        }),
    },
    {
      name: 'suspension of the tenant',
      role: 'member',
      apply: () =>
        request(fx.srv.url, `/api/tenants/${acme.tenant.id}/suspend`, { method: 'POST', host: 'saas.test', token: platformToken }),
      undo: () =>
        request(fx.srv.url, `/api/tenants/${acme.tenant.id}/reactivate`, { method: 'POST', host: 'saas.test', token: platformToken }),
    },
    {
      name: 'logout',
      role: 'member',
      apply: (_p, token) => request(fx.srv.url, '/api/auth/logout', { method: 'POST', host: ACME, token }),
    },
  ];
  // REST: a route needing the starting role; the webhook: the session's role drops or it is refused; actions: an admin action.
  const probes = {
    REST: async (c: Change, token: string) => {
      const path = c.role === 'admin' ? `/api/tenants/${acme.tenant.id}/invitations` : `/api/tenants/${acme.tenant.id}`;
      return (await rest(token, path)).status >= 400;
    },
    'auth webhook': async (c: Change, token: string) => {
      const res: HttpResponse<Record<string, string>> = await hook(token);
      return c.role === 'admin' ? res.status === 401 || res.body['X-Hasura-Role'] === 'member' : res.status === 401;
    },
  };

  for (const change of CHANGES) {
    for (const [path, probe] of Object.entries(probes)) {
      it(`${change.name} → ${path}`, async () => {
        const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role: change.role });
        const token = await sessionToken(fx.srv, person.id, acme.tenant.id, change.role);
        expect(await probe(change, token), 'access before the change').toBe(false);
        const res = (await change.apply(person, token)) as HttpResponse;
        expect(res.status, res.text).toBe(200);
        try {
          await gone(() => probe(change, token));
        } finally {
          await change.undo?.();
        }
      });
    }
  }

  it('actions check the session and the membership live', async () => {
    const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'admin' });
    const login1 = { body: await startSession(fx.srv.ctx, { userId: person.id, tenantId: acme.tenant.id, role: 'admin' }) };
    const session = (await hook(login1.body.token)).body;
    expect(session['X-Hasura-Session-Id']).toBeDefined();
    const vars = Object.fromEntries(
      Object.entries(session)
        .filter(([k]) => k.startsWith('X-Hasura'))
        .map(([k, v]) => [k.toLowerCase(), v]),
    );
    const list = () =>
      dispatchAction(fx.srv.ctx, { action: { name: 'listMembers' }, input: {}, session_variables: vars }).then(
        () => 'ok',
        (e: { code?: string }) => e.code,
      );
    expect(await list()).toBe('ok');
    await request(fx.srv.url, '/api/auth/logout', { method: 'POST', host: ACME, token: login1.body.token });
    await vi.waitFor(async () => expect(await list()).toBe('SESSION_ENDED'), WITHIN_1S);
  });

  it('the auth webhook never lets Hasura keep an answer longer than 1 s', async () => {
    expect((await hook(ownerToken)).body['Cache-Control']).toBe('max-age=1');
  });
});

describe('API keys', () => {
  const keys = (token: string, body?: unknown, method?: string, suffix = '') =>
    request(fx.srv.url, `/api/tenants/${acme.tenant.id}/api-keys${suffix}`, {
      host: ACME,
      token,
      ...(body ? { body } : {}),
      ...(method ? { method } : {}),
    });

  it('are shown once, hashed with a visible prefix, scoped to their tenant, counted, and revoked within 1 s', async () => {
    const created = await keys(ownerToken, { name: 'ci', role: 'tenant_admin' });
    expect(created.status, created.text).toBe(201);
    const { key, apiKey } = created.body;
    expect(key).toMatch(/^sk_[a-z0-9]{12}\.[\w-]{43}$/);
    expect(key.startsWith(apiKey.prefix)).toBe(true);
    expect(apiKey).toMatchObject({ name: 'ci', role: 'tenant_admin', revokedAt: null, lastUsedAt: null });
    const listed = await keys(ownerToken);
    expect(listed.text).not.toContain(key);
    expect(listed.body.apiKeys[0].prefix).toBe(apiKey.prefix);

    // REST and the auth webhook accept it, as the key's role in its tenant.
    const first = await rest(key, `/api/tenants/${acme.tenant.id}/audit`); // owners and admins only
    expect(first.status, first.text).toBe(200);
    const second = await rest(key);
    // Counted against the tenant's rate limit (a window may roll over between two calls, so compare with the limit).
    expect(Number(second.headers['ratelimit-remaining'])).toBeLessThan(Number(second.headers['ratelimit-limit']));
    const session = await hook(key);
    expect(session.status).toBe(200);
    expect(session.body).toMatchObject({
      'X-Hasura-Role': 'tenant_admin',
      'X-Hasura-Tenant-Id': acme.tenant.id,
      'X-Hasura-Api-Key-Id': apiKey.id,
    });
    await vi.waitFor(
      async () => {
        const row = await fx.db.pool.query('select last_used_at from public.tenant_api_keys where id = $1', [apiKey.id]);
        expect(row.rows[0].last_used_at).not.toBeNull();
      },
      { timeout: 5000, interval: 20 },
    ); // written after the answer, off the request path: not part of the 1 s promise

    // Another tenant's host: 403 over REST, refused by the webhook.
    expect((await rest(key, `/api/tenants/${beta.tenant.id}`, BETA)).status).toBe(403);
    expect((await hook(key, BETA)).status).toBe(401);
    // A key manages nobody and no keys.
    expect((await keys(key)).status).toBe(403);

    const revoked = await keys(ownerToken, undefined, 'DELETE', `/${apiKey.id}`);
    expect(revoked.status).toBe(200);
    await gone(async () => (await rest(key)).status === 401);
    await gone(async () => (await hook(key)).status === 401);
  });

  it('expire, need an owner or admin to manage them, and refuse a bad role or a past expiry', async () => {
    const expiring = await keys(ownerToken, { name: 'short', expiresAt: new Date(Date.now() + 60_000).toISOString() });
    expect(expiring.status).toBe(201);
    expect((await rest(expiring.body.key)).status).toBe(200);
    await fx.db.pool.query(`update public.tenant_api_keys set expires_at = now() - interval '1 second' where id = $1`, [
      expiring.body.apiKey.id,
    ]);
    // Moved into the past by hand, the key is dropped from the access cache by notification: within the second.
    await gone(async () => (await rest(expiring.body.key)).status === 401);
    const member = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'member' });
    expect((await keys(await sessionToken(fx.srv, member.id, acme.tenant.id, 'member'), { name: 'x' })).status).toBe(403);
    expect((await keys(ownerToken, { name: 'x', role: 'owner' })).status).toBe(400);
    expect((await keys(ownerToken, { name: 'x', expiresAt: '2001-01-01T00:00:00Z' })).status).toBe(400);
    expect((await rest('sk_aaaaaaaaaaaa.' + 'A'.repeat(43))).status).toBe(401);
  });
});
