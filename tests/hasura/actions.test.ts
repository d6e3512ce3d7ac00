// POST /hasura/actions with the payloads Hasura sends (hasura/README.md §1): the
// example from the contract verbatim, and the same shape for each of our
// actions. Identity comes from session_variables only.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';

const SECRET = 'actions-secret-0123456789abcdef';

// hasura/README.md §1, byte for byte.
const CONTRACT_EXAMPLE = `{"action":{"name":"UserLogin"},
 "input":{"username":"jake","password":"secretpassword"},
 "session_variables":{"x-hasura-user-id":"423","x-hasura-role":"user"},
 "request_query":"mutation {\\n  UserLogin (username: \\"jake\\", password: \\"secretpassword\\") {...}\\n}\\n"}`;

let a: MadeTenant;
let b: MadeTenant;
let memberId: string;
let platformAdminId: string;

const fx = useTestServer({ ACTIONS_SECRET: SECRET });
beforeAll(async () => {
  a = await makeTenant(fx.db, 'alpha');
  b = await makeTenant(fx.db, 'bravo');
  const ids = await fx.db.pool.query<{ id: string; email: string }>(
    `insert into public.identities (email, name, is_platform_admin)
     values ('member@alpha.example.com', 'Member', false), ('ops@platform.example.com', 'Ops', true) returning id, email`,
  );
  memberId = ids.rows.find((r) => r.email.startsWith('member'))!.id;
  platformAdminId = ids.rows.find((r) => r.email.startsWith('ops'))!.id;
  await fx.db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'member')`, [
    a.tenant.id,
    memberId,
  ]);
});

interface ActionReply {
  message?: string;
  extensions?: { code: string };
  [key: string]: unknown;
}

function call(raw: string, headers: Record<string, string> = { 'X-Actions-Secret': SECRET }) {
  return request<ActionReply>(fx.srv.url, '/hasura/actions', { rawBody: raw, headers });
}

/** The contract's payload with our action, arguments and session. */
function payload(name: string, input: Record<string, unknown>, session: Record<string, string>): string {
  const example = JSON.parse(CONTRACT_EXAMPLE) as Record<string, unknown>;
  return JSON.stringify({
    ...example,
    action: { name },
    input,
    session_variables: session,
    request_query: `mutation { ${name} { __typename } }`,
  });
}
const sessionOf = (role: string, tenant?: MadeTenant, userId?: string): Record<string, string> => ({
  'x-hasura-role': role,
  ...(tenant ? { 'x-hasura-tenant-id': tenant.tenant.id } : {}),
  ...(userId ? { 'x-hasura-user-id': userId } : {}),
});

describe('the dispatcher', () => {
  it('answers the contract example (an action we do not have) with a 4xx {message, extensions: {code}}', async () => {
    const res = await call(CONTRACT_EXAMPLE);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: 'Unknown action UserLogin', extensions: { code: 'NOT_FOUND' } });
  });

  it('requires the shared secret', async () => {
    const body = payload('login', { email: a.ownerEmail, password: OWNER_PASSWORD }, sessionOf('anonymous', a));
    expect((await call(body, {})).status).toBe(401);
    const wrong = await call(body, { 'X-Actions-Secret': 'actions-secret-0123456789abcdeX' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.extensions?.code).toBe('UNAUTHENTICATED');
    expect(wrong.body['token']).toBeUndefined();
  });

  it('is off (503 in the one error shape, as documented) while ACTIONS_SECRET is not configured', async () => {
    const saved = fx.srv.ctx.env.ACTIONS_SECRET;
    fx.srv.ctx.env.ACTIONS_SECRET = undefined;
    try {
      const res = await call(payload('login', {}, sessionOf('anonymous')), {});
      expect(res.status).toBe(503);
      expect(res.body).toEqual({
        error: { code: 'SERVICE_UNAVAILABLE', message: 'ACTIONS_SECRET is not configured on the actions server' },
      });
    } finally {
      fx.srv.ctx.env.ACTIONS_SECRET = saved;
    }
  });

  it('refuses a payload without session variables', async () => {
    const res = await call(JSON.stringify({ action: { name: 'login' }, input: {} }));
    expect(res.status).toBe(400);
    expect(res.body.extensions?.code).toBe('VALIDATION_FAILED');
  });
});

describe('createTenant', () => {
  const input = (slug: string, extra: Record<string, unknown> = {}) => ({
    input: {
      name: `${slug} Co`,
      slug,
      ownerEmail: `boss@${slug}.example.com`,
      ownerName: 'Boss',
      ownerPassword: 'securepass123',
      plan: null,
      trial: null,
      ...extra,
    },
  });

  it('signs up a tenant for an anonymous session and returns the owner token', async () => {
    const res = await call(payload('createTenant', input('delta'), sessionOf('anonymous')));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ tenant: { slug: 'delta', status: 'active', plan: 'free', isolation: 'schema' }, expiresIn: 600 });
    const verified = fx.srv.ctx.tokens.verify(res.body['token'] as string);
    expect(verified).toMatchObject({ userId: res.body['ownerId'], role: 'owner', tenantId: (res.body['tenant'] as { id: string }).id });
    expect((await fx.db.pool.query(`select 1 from pg_namespace where nspname = 'tenant_delta'`)).rowCount).toBe(1);
  });

  it('answers bad input and a taken slug through the error catalogue', async () => {
    const bad = await call(payload('createTenant', input('X!'), sessionOf('anonymous')));
    expect(bad.status).toBe(400);
    expect(bad.body.extensions?.code).toBe('VALIDATION_FAILED');
    const taken = await call(payload('createTenant', input('alpha', { ownerEmail: 'new@alpha.example.com' }), sessionOf('anonymous')));
    expect(taken.status).toBe(409);
    expect(taken.body.extensions?.code).toBe('SLUG_TAKEN');
  });

  it('lets only a platform administrator (still one in the database) choose a sales-only plan', async () => {
    const anonymous = await call(payload('createTenant', input('echo', { plan: 'custom' }), sessionOf('anonymous')));
    expect(anonymous.status).toBe(400);
    expect(anonymous.body.extensions?.code).toBe('PLAN_NOT_AVAILABLE');
    // A session claiming platform_admin for someone who is not one gains nothing.
    const impostor = await call(
      payload('createTenant', input('echo', { plan: 'custom' }), sessionOf('platform_admin', undefined, memberId)),
    );
    expect(impostor.body.extensions?.code).toBe('PLAN_NOT_AVAILABLE');
    const admin = await call(
      payload('createTenant', input('echo', { plan: 'custom' }), sessionOf('platform_admin', undefined, platformAdminId)),
    );
    expect(admin.status, admin.text).toBe(200);
    expect(admin.body['tenant']).toMatchObject({ plan: 'custom' });
  });
});

describe('login', () => {
  it("signs in on the session's tenant (the host the auth webhook resolved)", async () => {
    const res = await call(payload('login', { email: a.ownerEmail, password: OWNER_PASSWORD }, sessionOf('anonymous', a)));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ role: 'owner', userId: a.ownerId, tenantId: a.tenant.id, tenantSlug: 'alpha' });
    expect(fx.srv.ctx.tokens.verify(res.body['token'] as string).tenantId).toBe(a.tenant.id);
  });

  it("refuses a wrong password and another tenant's owner", async () => {
    const wrong = await call(payload('login', { email: a.ownerEmail, password: 'not-the-password' }, sessionOf('anonymous', a)));
    expect(wrong.status).toBe(401);
    expect(wrong.body.extensions?.code).toBe('INVALID_CREDENTIALS');
    const foreign = await call(payload('login', { email: b.ownerEmail, password: OWNER_PASSWORD }, sessionOf('anonymous', a)));
    expect(foreign.status).toBe(401);
  });
});

describe('updateTenant', () => {
  const rename = (name: string) => ({ input: { name, branding: null, settings: null } });

  it('lets the owner change their tenant', async () => {
    const res = await call(payload('updateTenant', rename('Alpha Renamed'), sessionOf('owner', a, a.ownerId)));
    expect(res.status, res.text).toBe(200);
    expect(res.body['tenant']).toMatchObject({ id: a.tenant.id, name: 'Alpha Renamed' });
    expect((await fx.db.pool.query('select name from public.tenants where id = $1', [a.tenant.id])).rows[0].name).toBe('Alpha Renamed');
  });

  it('takes identity from session_variables only, never from client headers', async () => {
    // A member forwards headers claiming to be the owner: the session still says member.
    const res = await call(payload('updateTenant', rename('Hijacked'), sessionOf('member', a, memberId)), {
      'X-Actions-Secret': SECRET,
      'X-Hasura-Role': 'owner',
      'X-Hasura-User-Id': a.ownerId,
    });
    expect(res.status).toBe(403);
    expect(res.body.extensions?.code).toBe('FORBIDDEN');
    expect((await fx.db.pool.query('select name from public.tenants where id = $1', [a.tenant.id])).rows[0].name).not.toBe('Hijacked');
  });

  it("refuses a session whose tenant is not the user's, and Hasura's own admin role", async () => {
    expect((await call(payload('updateTenant', rename('X'), sessionOf('owner', b, a.ownerId)))).status).toBe(403);
    expect((await call(payload('updateTenant', rename('X'), sessionOf('admin', a, a.ownerId)))).status).toBe(403);
  });

  it('validates branding like the REST route', async () => {
    const res = await call(payload('updateTenant', { input: { branding: { primaryColor: 'red' } } }, sessionOf('owner', a, a.ownerId)));
    expect(res.status).toBe(400);
    expect(res.body.extensions?.code).toBe('VALIDATION_FAILED');
  });
});

describe('suspendTenant / reactivateTenant', () => {
  it('are for platform administrators and the console (Hasura admin) only', async () => {
    const owner = await call(payload('suspendTenant', { tenantId: b.tenant.id }, sessionOf('owner', b, b.ownerId)));
    expect(owner.status).toBe(403);
    const suspended = await call(
      payload('suspendTenant', { tenantId: b.tenant.id }, sessionOf('platform_admin', undefined, platformAdminId)),
    );
    expect(suspended.status, suspended.text).toBe(200);
    expect(suspended.body['status']).toBe('suspended');
    const again = await call(payload('suspendTenant', { tenantId: b.tenant.id }, sessionOf('platform_admin', undefined, platformAdminId)));
    expect(again.status).toBe(409);
    const reactivated = await call(payload('reactivateTenant', { tenantId: b.tenant.id }, sessionOf('admin')));
    expect(reactivated.status).toBe(200);
    expect(reactivated.body['status']).toBe('active');
  });
});
