// POST /hasura/auth as Hasura calls it (hasura/README.md §4): {headers, request},
// answered 200 with the session or 401. Tokens, hosts, memberships and
// statuses are real; only the request is built by hand, the way Hasura sends it.
import jwt from 'jsonwebtoken';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, TEST_JWT_SECRET, useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { CLAIMS_NAMESPACE, type TokenRole } from '../../actions-server/src/auth/tokens.ts';
import { changeStatus } from '../../actions-server/src/tenants/service.ts';

let a: MadeTenant;
let b: MadeTenant;
let memberId: string;
let adminId: string;
let platformAdminId: string;

const hostOf = (t: MadeTenant) => `${t.tenant.slug}.saas.test`;

async function identity(email: string, platformAdmin = false): Promise<string> {
  return (
    await fx.db.pool.query<{ id: string }>(
      'insert into public.identities (email, name, is_platform_admin) values ($1, $1, $2) returning id',
      [email, platformAdmin],
    )
  ).rows[0]!.id;
}

const fx = useTestServer({ RATE_LIMIT_ENABLED: 'false' });
beforeAll(async () => {
  // Rate limits have their own server below; here they would trip over this file's many requests.
  a = await makeTenant(fx.db, 'alpha');
  b = await makeTenant(fx.db, 'bravo');
  memberId = await identity('member@alpha.example.com');
  adminId = await identity('admin@alpha.example.com');
  platformAdminId = await identity('ops@platform.example.com', true);
  await fx.db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'member'), ($1, $3, 'admin')`, [
    a.tenant.id,
    memberId,
    adminId,
  ]);
});

const token = (userId: string, tenantId: string | null, role: TokenRole) => fx.srv.ctx.tokens.sign({ userId, tenantId, role }).token;

/** What Hasura POSTs: every client header, names as the client wrote them. */
function hook(headers: Record<string, string>, body?: unknown) {
  return request<Record<string, string> & { error?: { code: string } }>(fx.srv.url, '/hasura/auth', {
    body: body ?? { headers, request: { query: 'query { tenants { name } }', variables: {}, operationName: null } },
  });
}
const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

describe('a valid token on its own tenant host', () => {
  it('answers the session: role, user, tenant (all strings) and a bounded lifetime', async () => {
    const res = await hook({ Host: hostOf(a), ...bearer(token(a.ownerId, a.tenant.id, 'owner')), 'User-Agent': 'test' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      'X-Hasura-Role': 'owner',
      'X-Hasura-User-Id': a.ownerId,
      'X-Hasura-Tenant-Id': a.tenant.id,
      'Cache-Control': 'max-age=1',
    });
  });

  it('reads header names in any case', async () => {
    const res = await hook({ HOST: `${hostOf(a)}:8080`, authorization: `bearer ${token(a.ownerId, a.tenant.id, 'owner')}` });
    expect(res.status).toBe(200);
    expect(res.body['X-Hasura-Tenant-Id']).toBe(a.tenant.id);
  });

  it("calls a tenant admin `tenant_admin`, never Hasura's superuser `admin`", async () => {
    const res = await hook({ host: hostOf(a), ...bearer(token(adminId, a.tenant.id, 'admin')) });
    expect(res.body['X-Hasura-Role']).toBe('tenant_admin');
  });

  it('never outlives the token', async () => {
    const short = jwt.sign(
      {
        [CLAIMS_NAMESPACE]: {
          'x-hasura-default-role': 'owner',
          'x-hasura-allowed-roles': ['owner', 'tenant_admin', 'member'],
          'x-hasura-user-id': a.ownerId,
          'x-hasura-tenant-id': a.tenant.id,
        },
      },
      TEST_JWT_SECRET,
      { algorithm: 'HS256', subject: a.ownerId, issuer: fx.srv.ctx.env.JWT_ISSUER, audience: fx.srv.ctx.env.JWT_AUDIENCE, expiresIn: 20 },
    );
    const res = await hook({ host: hostOf(a), ...bearer(short) });
    expect(res.status).toBe(200);
    const maxAge = Number(/max-age=(\d+)/.exec(res.body['Cache-Control'] ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(20);
  });
});

describe('refusals are 401', () => {
  const claims = (userId: string, tenantId: string) => ({
    [CLAIMS_NAMESPACE]: {
      'x-hasura-default-role': 'owner',
      'x-hasura-allowed-roles': ['owner', 'tenant_admin', 'member'],
      'x-hasura-user-id': userId,
      'x-hasura-tenant-id': tenantId,
    },
  });
  const signed = (opts: jwt.SignOptions, secret = TEST_JWT_SECRET) =>
    jwt.sign(claims(a.ownerId, a.tenant.id), secret, {
      algorithm: 'HS256',
      subject: a.ownerId,
      issuer: fx.srv.ctx.env.JWT_ISSUER,
      audience: fx.srv.ctx.env.JWT_AUDIENCE,
      expiresIn: 600,
      ...opts,
    });

  it("refuses tenant A's token on tenant B's host", async () => {
    const res = await hook({ host: hostOf(b), ...bearer(token(a.ownerId, a.tenant.id, 'owner')) });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('TENANT_MISMATCH');
  });

  it('refuses a tenant token on the platform host', async () => {
    expect((await hook({ host: 'saas.test', ...bearer(token(a.ownerId, a.tenant.id, 'owner')) })).status).toBe(401);
  });

  it.each([
    ['expired', () => signed({ expiresIn: -10 })],
    ['wrong signature', () => signed({}, 'another-secret-that-is-long-enough-0123456789')],
    ['wrong audience', () => signed({ audience: 'someone-else' })],
    ['wrong issuer', () => signed({ issuer: 'https://evil.example.com' })],
    [
      'alg none',
      () => {
        const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
        const now = Math.floor(Date.now() / 1000);
        return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({
          ...claims(a.ownerId, a.tenant.id),
          sub: a.ownerId,
          iss: fx.srv.ctx.env.JWT_ISSUER,
          aud: fx.srv.ctx.env.JWT_AUDIENCE,
          iat: now,
          exp: now + 600,
        })}.`;
      },
    ],
  ])('refuses a token with %s', async (_what, make) => {
    // The genuine token passes, so the refusal is about the defect alone.
    expect((await hook({ host: hostOf(a), ...bearer(signed({})) })).status).toBe(200);
    const res = await hook({ host: hostOf(a), ...bearer(make()) });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('INVALID_TOKEN');
  });

  it('refuses a token that was accepted before, once it has expired', async () => {
    // The server checks a token's signature once; its expiry must still be checked on every request.
    const short = signed({ expiresIn: 20 });
    expect((await hook({ host: hostOf(a), ...bearer(short) })).status).toBe(200);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 21_000 });
    try {
      const res = await hook({ host: hostOf(a), ...bearer(short) });
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe('INVALID_TOKEN');
    } finally {
      vi.useRealTimers();
    }
    // Genuine and unexpired: still accepted (the refusal above is the expiry alone).
    expect((await hook({ host: hostOf(a), ...bearer(signed({})) })).status).toBe(200);
  });

  it('refuses a malformed Authorization header and a malformed body', async () => {
    expect((await hook({ host: hostOf(a), Authorization: 'Basic Zm9vOmJhcg==' })).status).toBe(401);
    expect((await hook({}, { headers: 'nope' })).status).toBe(401);
  });

  it('refuses an unknown tenant host', async () => {
    const res = await hook({ host: 'nobody.saas.test', ...bearer(token(a.ownerId, a.tenant.id, 'owner')) });
    expect(res.status).toBe(401);
    expect(res.body.error?.code).toBe('TENANT_NOT_FOUND');
  });

  it('refuses everyone on a suspended tenant, anonymous included', async () => {
    const c = await makeTenant(fx.db, 'charlie');
    const owner = token(c.ownerId, c.tenant.id, 'owner');
    expect((await hook({ host: hostOf(c), ...bearer(owner) })).status).toBe(200);
    await changeStatus(fx.db.pool, c.tenant.id, 'suspend');
    fx.srv.ctx.resolver.invalidate({ id: c.tenant.id, slugs: [c.tenant.slug] }); // what the NOTIFY listener does, without waiting for it
    for (const headers of [{ host: hostOf(c), ...bearer(owner) }, { host: hostOf(c) }]) {
      const res = await hook(headers);
      expect(res.status).toBe(401);
      expect(res.body.error?.code).toBe('TENANT_SUSPENDED');
    }
  });
});

describe('X-Hasura-Role may only lower the role', () => {
  it('lets an owner act as tenant_admin or member', async () => {
    for (const role of ['tenant_admin', 'member']) {
      const res = await hook({ host: hostOf(a), ...bearer(token(a.ownerId, a.tenant.id, 'owner')), 'X-Hasura-Role': role });
      expect(res.status).toBe(200);
      expect(res.body['X-Hasura-Role']).toBe(role);
    }
  });

  it.each(['owner', 'tenant_admin', 'admin', 'platform_admin', 'anonymous', 'user'])('refuses a member asking for %s', async (role) => {
    const res = await hook({ host: hostOf(a), ...bearer(token(memberId, a.tenant.id, 'member')), 'x-hasura-role': role });
    expect(res.status).toBe(401);
  });

  it('caps a token by the current membership, and refuses a former member', async () => {
    const demoted = await identity('demoted@alpha.example.com');
    await fx.db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'member')`, [
      a.tenant.id,
      demoted,
    ]);
    const ownerToken = token(demoted, a.tenant.id, 'owner'); // issued before a demotion, say
    expect((await hook({ host: hostOf(a), ...bearer(ownerToken) })).body['X-Hasura-Role']).toBe('member');
    expect((await hook({ host: hostOf(a), ...bearer(ownerToken), 'X-Hasura-Role': 'owner' })).status).toBe(401);
    await fx.db.pool.query('delete from public.memberships where identity_id = $1', [demoted]);
    // The promise is within a second: the access cache hears of the removal by notification.
    await vi.waitFor(async () => expect((await hook({ host: hostOf(a), ...bearer(ownerToken) })).status).toBe(401), {
      timeout: 1000,
      interval: 20,
    });
  });
});

describe('anonymous and platform sessions', () => {
  it('gives a request without a token the anonymous role and the host tenant', async () => {
    const res = await hook({ host: hostOf(a) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ 'X-Hasura-Role': 'anonymous', 'X-Hasura-Tenant-Id': a.tenant.id, 'Cache-Control': 'max-age=1' });
    expect((await hook({ host: hostOf(a), 'X-Hasura-Role': 'owner' })).status).toBe(401);
  });

  it('gives the platform host an anonymous session without a tenant (sign-up, platform login)', async () => {
    const res = await hook({ host: 'saas.test' });
    expect(res.body).toEqual({ 'X-Hasura-Role': 'anonymous', 'Cache-Control': 'max-age=1' });
  });

  it('accepts a platform administrator only while the database still says so', async () => {
    const t = token(platformAdminId, null, 'platform_admin');
    const res = await hook({ host: 'saas.test', ...bearer(t) });
    expect(res.body).toMatchObject({ 'X-Hasura-Role': 'platform_admin', 'X-Hasura-User-Id': platformAdminId });
    expect(res.body['X-Hasura-Tenant-Id']).toBeUndefined();
    await fx.db.pool.query('update public.identities set is_platform_admin = false where id = $1', [platformAdminId]);
    // A change made in SQL reaches the access cache by NOTIFY: refused within the second access may last.
    await vi.waitFor(async () => expect((await hook({ host: 'saas.test', ...bearer(t) })).status).toBe(401), {
      timeout: 1000,
      interval: 50,
    });
    await fx.db.pool.query('update public.identities set is_platform_admin = true where id = $1', [platformAdminId]);
  });
});

describe('rate limit and API-call count', () => {
  it("applies the plan's per-minute limit and counts admitted calls, per tenant", async () => {
    const limited = await startTestServer(fx.db, { RATE_LIMIT_KEY_PREFIX: `hook-${fx.db.name}:` });
    try {
      const d = await makeTenant(fx.db, 'delta'); // free plan: 60 requests a minute
      const e = await makeTenant(fx.db, 'echo');
      const call = (t: MadeTenant) =>
        request<Record<string, string> & { error?: { code: string } }>(limited.url, '/hasura/auth', {
          body: {
            headers: {
              host: hostOf(t),
              authorization: `Bearer ${limited.ctx.tokens.sign({ userId: t.ownerId, tenantId: t.tenant.id, role: 'owner' }).token}`,
            },
          },
        });
      for (let i = 0; i < 60; i++) expect((await call(d)).status).toBe(200);
      const refused = await call(d);
      expect(refused.status).toBe(401);
      expect(refused.body.error?.code).toBe('RATE_LIMITED');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await call(e)).status).toBe(200);

      await limited.ctx.usage.flush();
      const counted = await fx.db.pool.query<{ tenant_id: string; calls: string }>(
        `select tenant_id, sum(calls)::text as calls from public.tenant_api_calls
          where tenant_id = any($1) and endpoint = 'graphql' group by tenant_id`,
        [[d.tenant.id, e.tenant.id]],
      );
      expect(Object.fromEntries(counted.rows.map((r) => [r.tenant_id, Number(r.calls)]))).toEqual({ [d.tenant.id]: 60, [e.tenant.id]: 1 });
    } finally {
      await limited.close();
    }
  });
});
