// What an outsider could do against the HTTP surface, each closed and kept
// closed: a catastrophic regex, anonymous traffic spending a tenant's
// allowance, an unthrottled sign-in oracle, tenant routes that skipped the
// tenant's status on the platform host, stale platform-admin claims, admins
// closing the tenant, CORS and response headers.
// The server trusts one proxy hop, so each test can speak from addresses of its
// own (X-Forwarded-For) and per-address limits never leak between tests.
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, useTestServer } from '../support/db.ts';
import { request, type RequestOptions } from '../support/http.ts';
import { addMember, makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';

let alpha: MadeTenant;
let ownerToken: string;
let addresses = 0;
/** A client address no other request of this file used. */
const freshAddress = () => `198.51.100.${++addresses}`;

const ANONYMOUS_PER_MINUTE = 70;

const fx = useTestServer({
  TRUST_PROXY_HOPS: '1',
  ANONYMOUS_RATE_LIMIT_PER_MINUTE: String(ANONYMOUS_PER_MINUTE),
  AUTH_THROTTLE_PER_ADDRESS: '5',
  AUTH_THROTTLE_PER_ACCOUNT: '3',
  PASSWORD_HASH_CONCURRENCY: '1',
  PASSWORD_HASH_QUEUE_MAX: '1',
  // The production cost: the queue bound is only observable while hashing takes real time.
  PASSWORD_HASH_MEMORY_KIB: '65536',
  CORS_ORIGINS: 'https://app.saas.test',
  // Pooled tenants are rows only: quick to make.
  DEFAULT_ISOLATION: 'pooled',
});
beforeAll(async () => {
  alpha = await makeTenant(fx.db, 'alpha', { isolation: 'pooled' });
  ownerToken = fx.srv.ctx.tokens.sign({ userId: alpha.ownerId, tenantId: alpha.tenant.id, role: 'owner' }).token;
});

const from = (address: string, opts: RequestOptions = {}): RequestOptions => ({
  ...opts,
  headers: { ...(opts.headers ?? {}), 'x-forwarded-for': address },
});
const call = (path: string, opts: RequestOptions = {}) =>
  request(fx.srv.url, path, opts.headers?.['x-forwarded-for'] ? opts : from(freshAddress(), opts));

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

describe('security item 1: a hostile email cannot freeze the server', () => {
  // "a@" followed by a megabyte of dots and an "@": quadratic for the former pattern.
  const attack = `a@${'.'.repeat(1_000_000)}@`;

  it.each([
    ['POST /api/auth/login', '/api/auth/login', { email: attack, password: 'x' }, { password: 'x'.repeat(1_000_000) }],
    [
      'POST /api/tenants/create',
      '/api/tenants/create',
      { name: 'n', slug: 'redos', ownerEmail: attack, ownerName: 'n', ownerPassword: 'password-1' },
      { name: 'n', slug: 'redos', ownerName: 'x'.repeat(1_000_000), ownerPassword: 'password-1' },
    ],
  ])(
    '%s with a 1 MB email answers 400 in time linear in its size, and /api/health is served meanwhile',
    async (_name, path, body, baselineBody) => {
      // The linear part (receiving and parsing a megabyte of JSON) measured on a
      // body of the same size that fails validation without any pattern; the
      // bound is an order of magnitude above it.
      let baseline = 0;
      for (let i = 0; i < 3; i++) baseline = Math.max(baseline, (await timed(() => call(path, { body: baselineBody }))).ms);
      const [attacked, health] = await Promise.all([
        timed(() => call(path, { body })),
        (async () => {
          await new Promise((r) => setImmediate(r));
          return timed(() => call('/api/health'));
        })(),
      ]);
      expect(attacked.value.status).toBe(400);
      expect(attacked.value.body.error.code).toBe('VALIDATION_FAILED');
      expect(attacked.ms).toBeLessThan(10 * baseline + 200);
      expect(health.value.status).toBe(200);
      expect(health.ms).toBeLessThan(10 * baseline + 200);
    },
  );
});

describe("security item 2: anonymous traffic never spends a tenant's allowance", () => {
  it("61 anonymous requests, preflights and anonymous GraphQL leave the owner's minute window and the month's quota untouched", async () => {
    const host = 'alpha.saas.test';
    for (let i = 0; i < 61; i++) expect((await call('/api/health', { host })).status).toBe(200);
    for (let i = 0; i < 10; i++) {
      const preflight = await call('/api/health', {
        host,
        method: 'OPTIONS',
        headers: { origin: 'https://alpha.saas.test', 'access-control-request-method': 'GET' },
      });
      expect(preflight.status).toBe(204);
    }
    for (let i = 0; i < 61; i++) {
      const hook = await call('/hasura/auth', { body: { headers: { host, 'x-forwarded-for': freshAddress() } } });
      expect(hook.status, hook.text).toBe(200);
    }
    const owner = await call('/api/health', { host, token: ownerToken });
    expect(owner.status).toBe(200);
    expect(owner.headers['ratelimit-remaining']).toBe('59');
    await fx.srv.ctx.usage.flush();
    const { rows } = await fx.db.pool.query<{ n: number }>(
      'select coalesce(sum(calls), 0)::int as n from public.tenant_api_calls where tenant_id = $1',
      [alpha.tenant.id],
    );
    expect(rows[0]!.n).toBe(1);
  });

  it('limits anonymous requests per client address, separately from the tenant', async () => {
    const address = freshAddress();
    for (let i = 0; i < ANONYMOUS_PER_MINUTE; i++)
      expect((await request(fx.srv.url, '/api/health', from(address, { host: 'alpha.saas.test' }))).status).toBe(200);
    const refused = await request(fx.srv.url, '/api/health', from(address, { host: 'alpha.saas.test' }));
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // The same address with the owner's token is the tenant's business; another address is not limited.
    expect((await request(fx.srv.url, '/api/health', from(address, { host: 'alpha.saas.test', token: ownerToken }))).status).toBe(200);
    expect((await call('/api/health', { host: 'alpha.saas.test' })).status).toBe(200);
    // The auth webhook refuses (401) an address past its anonymous allowance too.
    const hookAddress = freshAddress();
    for (let i = 0; i < ANONYMOUS_PER_MINUTE; i++) {
      await call('/hasura/auth', { body: { headers: { host: 'alpha.saas.test', 'x-forwarded-for': hookAddress } } });
    }
    const hook = await call('/hasura/auth', { body: { headers: { host: 'alpha.saas.test', 'x-forwarded-for': hookAddress } } });
    expect(hook.status).toBe(401);
    expect(hook.body.error.code).toBe('RATE_LIMITED');
  });
});

describe('security item 3: sign-in and sign-up are no oracle and no CPU sink', () => {
  const signUp = (slug: string, email: string, password: string, opts: RequestOptions = {}) =>
    call('/api/tenants/create', { ...opts, body: { name: slug, slug, ownerEmail: email, ownerName: 'Someone', ownerPassword: password } });

  it('sign-up answers the same for the right and a wrong password of an existing account; signed in, the person opens another tenant', async () => {
    const right = await signUp('oracle-two', alpha.ownerEmail, OWNER_PASSWORD);
    const wrong = await signUp('oracle-two', alpha.ownerEmail, 'a-wrong-password');
    expect(right.status).toBe(409);
    expect(wrong.status).toBe(409);
    expect(right.body).toEqual(wrong.body);
    expect(right.body.error.code).toBe('IDENTITY_EXISTS');
    const signedIn = await signUp('oracle-two', alpha.ownerEmail, 'whatever-password', { token: ownerToken });
    expect(signedIn.status, signedIn.text).toBe(201);
    expect(signedIn.body.owner.id).toBe(alpha.ownerId);
  });

  // Attempts are counted before anything is checked, so malformed ones (no hash to compute) count as well.
  it('throttles logins per address: the 6th attempt in the window is 429 with Retry-After; another address is unaffected', async () => {
    const address = freshAddress();
    let n = 0;
    const attempt = (opts: RequestOptions) =>
      request(fx.srv.url, '/api/auth/login', { ...opts, host: 'alpha.saas.test', body: { email: `not-an-email-${++n}`, password: 'x' } });
    for (let i = 0; i < 5; i++) expect((await attempt(from(address))).status).toBe(400);
    const sixth = await attempt(from(address));
    expect(sixth.status).toBe(429);
    expect(sixth.body.error.code).toBe('RATE_LIMITED');
    expect(Number(sixth.headers['retry-after'])).toBeGreaterThan(0);
    expect((await attempt(from(freshAddress()))).status).toBe(400);
  });

  it('throttles failed logins per account whatever the address; a successful one is not held against it', async () => {
    const victim = await addMember(fx.db, alpha.tenant, 'victim@alpha.test', 'member');
    expect(
      (await call('/api/auth/login', { host: 'alpha.saas.test', body: { email: victim.email, password: victim.password } })).status,
    ).toBe(200);
    // Three failures (an over-long password fails without a hash) from three addresses use up the account's three.
    for (let i = 0; i < 3; i++) {
      expect(
        (await call('/api/auth/login', { host: 'alpha.saas.test', body: { email: victim.email, password: 'x'.repeat(201) } })).status,
      ).toBe(400);
    }
    const locked = await call('/api/auth/login', { host: 'alpha.saas.test', body: { email: victim.email, password: victim.password } });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('RATE_LIMITED');
  });

  it('throttles sign-ups per address', async () => {
    const address = freshAddress();
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await request(
        fx.srv.url,
        '/api/tenants/create',
        from(address, { body: { name: 'x', slug: 'signup', ownerEmail: `s${i}@signup.test`, ownerName: 'x', ownerPassword: 'short' } }),
      );
      codes.push(res.status);
    }
    expect(codes).toEqual([400, 400, 400, 400, 400, 429]);
  });

  it('bounds concurrent password hashing: of 8 parallel logins, those past one running and one waiting get 503 with Retry-After', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        call('/api/auth/login', { host: 'alpha.saas.test', body: { email: `parallel${i}@x.test`, password: 'wrong-password' } }),
      ),
    );
    const busy = results.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThanOrEqual(5);
    for (const r of busy) {
      expect(r.body.error.code).toBe('SERVICE_UNAVAILABLE');
      expect(r.headers['retry-after']).toBe('1');
    }
    for (const r of results.filter((x) => x.status !== 503)) expect(r.status).toBe(401);
  });

  it('answers an unknown account after a password verification, like a wrong password', async () => {
    const known = await timed(() =>
      call('/api/auth/login', { host: 'alpha.saas.test', body: { email: alpha.ownerEmail, password: 'wrong-password' } }),
    );
    const unknown = await timed(() =>
      call('/api/auth/login', { host: 'alpha.saas.test', body: { email: 'ghost@nowhere.test', password: 'wrong-password' } }),
    );
    expect(known.value.status).toBe(401);
    expect(unknown.value.body).toEqual(known.value.body);
    // A verification costs tens of milliseconds at least; answering without one takes a few.
    expect(unknown.ms).toBeGreaterThan(known.ms / 4);
  });
});

describe('security item 4: a tenant id in the path is checked whatever the Host', () => {
  it('a suspended tenant is refused on the platform host, and its rate limit applies there', async () => {
    const made = await makeTenant(fx.db, 'suspendedco', { isolation: 'pooled' });
    const token = fx.srv.ctx.tokens.sign({ userId: made.ownerId, tenantId: made.tenant.id, role: 'owner' }).token;
    await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{"rate_limit_per_minute": 3}' where tenant_id = $1`, [
      made.tenant.id,
    ]);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(`/api/tenants/${made.tenant.id}`, { token })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);

    await fx.db.pool.query(`update public.tenants set status = 'suspended', suspended_at = now() where id = $1`, [made.tenant.id]);
    await expect.poll(async () => (await fx.srv.ctx.resolver.byId(made.tenant.id))?.status).toBe('suspended');
    const put = await call(`/api/tenants/${made.tenant.id}`, { method: 'PUT', token, body: { name: 'Renamed' } });
    const invite = await call(`/api/tenants/${made.tenant.id}/invitations`, { token, body: { email: 'new@x.test', role: 'member' } });
    const audit = await call(`/api/tenants/${made.tenant.id}/audit`, { token });
    for (const res of [put, invite, audit]) {
      expect(res.status, res.text).toBe(403);
      expect(res.body.error.code).toBe('TENANT_SUSPENDED');
    }
  });
});

describe('security items 5 and 6: platform admins and owners as the database says', () => {
  it('security item 5: a demoted platform admin can no longer suspend, reactivate or verify a domain', async () => {
    // No password needed here: the token is what is being tested.
    const { rows: ids } = await fx.db.pool.query<{ id: string }>(
      `insert into public.identities (email, name, is_platform_admin) values ('demoted@platform.test', 'Ops', true) returning id`,
    );
    const adminToken = fx.srv.ctx.tokens.sign({ userId: ids[0]!.id, tenantId: null, role: 'platform_admin' }).token;
    const target = alpha;
    // Custom domains are a plan feature: this tenant gets it by override.
    await fx.db.pool.query(`update public.tenant_settings set features = features || '{"custom_domain": true}' where tenant_id = $1`, [
      target.tenant.id,
    ]);
    await fx.db.pool.query(`update public.tenants set custom_domain = 'target.example.com' where id = $1`, [target.tenant.id]);
    await fx.db.pool.query('update public.identities set is_platform_admin = false where id = $1', [ids[0]!.id]);
    for (const action of ['suspend', 'reactivate', 'verify-domain']) {
      const res = await call(`/api/tenants/${target.tenant.id}/${action}`, { method: 'POST', token: adminToken });
      expect([action, res.status, res.body.error?.code]).toEqual([action, 403, 'FORBIDDEN']);
    }
    const { rows } = await fx.db.pool.query('select status, custom_domain_verified_at from public.tenants where id = $1', [
      target.tenant.id,
    ]);
    expect(rows[0]).toEqual({ status: 'active', custom_domain_verified_at: null });
  });

  it('security item 6: a tenant admin cannot cancel the tenant; its owner can', async () => {
    const made = await makeTenant(fx.db, 'cancelco', { isolation: 'pooled' });
    const { rows } = await fx.db.pool.query<{ id: string }>(
      `insert into public.identities (email, name) values ('admin@cancelco.test', 'A') returning id`,
    );
    await fx.db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'admin')`, [
      made.tenant.id,
      rows[0]!.id,
    ]);
    const adminToken = fx.srv.ctx.tokens.sign({ userId: rows[0]!.id, tenantId: made.tenant.id, role: 'admin' }).token;
    const refused = await call(`/api/tenants/${made.tenant.id}`, { method: 'DELETE', host: 'cancelco.saas.test', token: adminToken });
    expect([refused.status, refused.body.error?.code]).toEqual([403, 'FORBIDDEN']);
    const owner = fx.srv.ctx.tokens.sign({ userId: made.ownerId, tenantId: made.tenant.id, role: 'owner' }).token;
    const done = await call(`/api/tenants/${made.tenant.id}`, { method: 'DELETE', host: 'cancelco.saas.test', token: owner });
    expect(done.status, done.text).toBe(200);
    expect(done.body.tenant.status).toBe('cancelled');
  });
});

describe('security item 12: CORS with an allowlist', () => {
  const preflight = (host: string | undefined, origin: string) =>
    call('/api/auth/login', {
      method: 'OPTIONS',
      ...(host ? { host } : {}),
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    });

  it("allows CORS_ORIGINS everywhere and a tenant's own hosts on that tenant's address, nobody else", async () => {
    const app = await preflight(undefined, 'https://app.saas.test');
    expect(app.status).toBe(204);
    expect(app.headers['access-control-allow-origin']).toBe('https://app.saas.test');
    expect(String(app.headers['access-control-allow-headers'])).toMatch(/Authorization/i);
    const own = await preflight('alpha.saas.test', 'https://alpha.saas.test');
    expect(own.headers['access-control-allow-origin']).toBe('https://alpha.saas.test');
    for (const [host, origin] of [
      ['alpha.saas.test', 'https://evil.example.com'],
      ['alpha.saas.test', 'https://beta.saas.test'],
      [undefined, 'https://alpha.saas.test'],
    ] as const) {
      const res = await preflight(host, origin);
      expect(res.headers['access-control-allow-origin'], `${origin} on ${host ?? 'the platform'}`).toBeUndefined();
    }
    const simple = await call('/api/health', { host: 'alpha.saas.test', headers: { origin: 'https://alpha.saas.test' } });
    expect(simple.headers['access-control-allow-origin']).toBe('https://alpha.saas.test');
  });
});

describe('security item 13: response headers', () => {
  it('API answers carry nosniff, a default-deny CSP and no-store (tokens included); no HSTS outside production', async () => {
    const login = await call('/api/auth/login', { host: 'alpha.saas.test', body: { email: alpha.ownerEmail, password: OWNER_PASSWORD } });
    expect(login.status).toBe(200);
    for (const res of [login, await call('/api/health'), await call('/hasura/auth', { body: { headers: {} } })]) {
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['strict-transport-security']).toBeUndefined();
    }
  });

  it('production adds HSTS', async () => {
    const prod = await startTestServer(fx.db, { NODE_ENV: 'production' });
    try {
      const res = await request(prod.url, '/api/health');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=31536000/);
    } finally {
      await prod.close();
    }
  });
});
