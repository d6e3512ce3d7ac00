import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant } from '../support/factories.ts';
import { TEMPLATE_DIR } from '../../actions-server/src/tenants/template.ts';

const fx = useTestServer();

const valid = (slug: string, extra: Record<string, unknown> = {}) => ({
  name: 'Acme Corp',
  slug,
  ownerEmail: `admin@${slug}.com`,
  ownerName: 'John Doe',
  ownerPassword: 'securepass123',
  plan: 'free',
  trial: true,
  ...extra,
});

async function footprint(slug: string) {
  const q = async (sql: string, params: unknown[]) => (await fx.db.pool.query(sql, params)).rowCount;
  return {
    tenants: await q('select 1 from public.tenants where slug = $1', [slug]),
    identities: await q('select 1 from public.identities where email = $1', [`admin@${slug}.com`]),
    schemas: await q('select 1 from pg_namespace where nspname = $1', [`tenant_${slug}`]),
    roles: await q('select 1 from pg_roles where rolname = $1', [`${fx.db.rolePrefix}tenant_${slug}`]),
  };
}

describe('POST /api/tenants/create', () => {
  it('creates the registry row, owner, membership, role and a schema built from the template', async () => {
    const res = await request(fx.srv.url, '/api/tenants/create', { body: valid('acme') });
    expect(res.status, res.text).toBe(201);
    expect(res.body.tenant).toMatchObject({ slug: 'acme', name: 'Acme Corp', status: 'active', plan: 'free', isolation: 'schema' });
    expect(typeof res.body.token).toBe('string');

    const tables = await fx.db.pool.query<{ tablename: string }>(
      `select tablename from pg_tables where schemaname = 'tenant_acme' order by 1`,
    );
    expect(tables.rows.map((r) => r.tablename)).toEqual(['channels', 'files', 'members', 'messages']);
    const row = (await fx.db.pool.query('select template_version, db_role, schema_name from public.tenants where slug = $1', ['acme']))
      .rows[0];
    expect(row).toEqual({ template_version: '1', db_role: `${fx.db.rolePrefix}tenant_acme`, schema_name: 'tenant_acme' });
    const member = await fx.db.pool.query(
      `select m.role from public.memberships m join public.identities i on i.id = m.identity_id where i.email = 'admin@acme.com'`,
    );
    expect(member.rows).toEqual([{ role: 'owner' }]);
    expect((await fx.db.pool.query('select email from tenant_acme.members')).rows).toEqual([{ email: 'admin@acme.com' }]);
    expect(await footprint('acme')).toEqual({ tenants: 1, identities: 1, schemas: 1, roles: 1 });

    const health = await request(fx.srv.url, '/api/health', { host: 'acme.saas.test:3000' });
    expect(health.body).toEqual({ status: 'ok', tenant: { slug: 'acme', status: 'active' } });
  });

  it("counts the owner in the new tenant's counters and audits the sign-up as one verified entry per row", async () => {
    const res = await request(fx.srv.url, '/api/tenants/create', { body: valid('counted') });
    expect(res.status, res.text).toBe(201);
    const id = res.body.tenant.id as string;
    const counters = await fx.db.pool.query(
      'select users_total::int, channels_total::int from public.tenant_counters where tenant_id = $1',
      [id],
    );
    expect(counters.rows).toEqual([{ users_total: 1, channels_total: 0 }]);
    const entries = await fx.db.pool.query<{ seq: string; action: string }>(
      'select seq::text, action from public.tenant_audit_logs where tenant_id = $1 order by seq',
      [id],
    );
    expect(entries.rows).toEqual([
      { seq: '1', action: 'tenant.created' },
      { seq: '2', action: 'membership.added' },
      { seq: '3', action: 'settings.created' },
    ]);
    const check = await fx.db.pool.query('select ok, checked::int from public.verify_audit_chain($1)', [id]);
    expect(check.rows).toEqual([{ ok: true, checked: 3 }]);
    // The owner is written before the plan-limit trigger exists: a later member still meets it.
    await expect(fx.db.pool.query(`insert into tenant_counted.members (display_name) values ('Second')`)).resolves.toBeDefined();
    const after = await fx.db.pool.query('select users_total::int from public.tenant_counters where tenant_id = $1', [id]);
    expect(after.rows).toEqual([{ users_total: 2 }]);
  });

  it('refuses a plan that allows no users (the owner is one) and leaves nothing', async () => {
    await fx.db.pool.query(
      `insert into public.plans (id, name, max_users, max_channels, max_storage_bytes, max_api_calls_month, rate_limit_per_minute, rate_limit_per_hour)
       values ('nobody', 'Nobody', 0, 1, 1, 1, 1, 1)`,
    );
    try {
      const res = await request(fx.srv.url, '/api/tenants/create', { body: valid('nobodyco', { plan: 'nobody' }) });
      expect(res.status, res.text).toBe(429);
      expect(res.body.error.code).toBe('QUOTA_EXCEEDED');
      expect(await footprint('nobodyco')).toEqual({ tenants: 0, identities: 0, schemas: 0, roles: 0 });
    } finally {
      await fx.db.pool.query(`delete from public.plans where id = 'nobody'`);
    }
  });

  it('starts paid plans as a trial with an end date, and refuses them without one', async () => {
    const trial = await request(fx.srv.url, '/api/tenants/create', { body: valid('trialco', { plan: 'pro' }) });
    expect(trial.status, trial.text).toBe(201);
    expect(trial.body.tenant.status).toBe('trial');
    const days = (Date.parse(trial.body.tenant.trialEndsAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(13.9);
    expect(days).toBeLessThan(14.1);

    const paid = await request(fx.srv.url, '/api/tenants/create', { body: valid('paidco', { plan: 'pro', trial: false }) });
    expect(paid.status).toBe(400);
    expect(paid.body.error.code).toBe('PLAN_NOT_AVAILABLE');
    const custom = await request(fx.srv.url, '/api/tenants/create', { body: valid('customco', { plan: 'custom' }) });
    expect(custom.status).toBe(400);
    expect(custom.body.error.code).toBe('PLAN_NOT_AVAILABLE');
    expect(await footprint('paidco')).toEqual({ tenants: 0, identities: 0, schemas: 0, roles: 0 });
  });

  it('answers a duplicate slug with 409, also when two requests race', async () => {
    const [a, b] = await Promise.all([
      request(fx.srv.url, '/api/tenants/create', { body: valid('race', { ownerEmail: 'one@race.com' }) }),
      request(fx.srv.url, '/api/tenants/create', { body: valid('race', { ownerEmail: 'two@race.com' }) }),
    ]);
    expect([a.status, b.status].sort()).toEqual([201, 409]);
    const loser = a.status === 409 ? a : b;
    expect(loser.body.error.code).toBe('SLUG_TAKEN');
    const again = await request(fx.srv.url, '/api/tenants/create', { body: valid('race', { ownerEmail: 'three@race.com' }) });
    expect(again.status).toBe(409);
    expect(
      (await fx.db.pool.query(`select 1 from public.identities where email in ('two@race.com','one@race.com','three@race.com')`)).rowCount,
    ).toBe(1);
  });

  it('lets an existing person open a second tenant only signed in, whatever password the body carries', async () => {
    const first = await request(fx.srv.url, '/api/tenants/create', { body: valid('firstco', { ownerEmail: 'same@person.com' }) });
    expect(first.status).toBe(201);
    const wrong = await request(fx.srv.url, '/api/tenants/create', {
      body: valid('secondco', { ownerEmail: 'same@person.com', ownerPassword: 'another-password' }),
    });
    const right = await request(fx.srv.url, '/api/tenants/create', { body: valid('secondco', { ownerEmail: 'same@person.com' }) });
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.code).toBe('IDENTITY_EXISTS');
    expect(right.body).toEqual(wrong.body);
    const signedIn = await request(fx.srv.url, '/api/tenants/create', {
      token: first.body.token,
      body: valid('secondco', { ownerEmail: 'same@person.com' }),
    });
    expect(signedIn.status, signedIn.text).toBe(201);
    expect(signedIn.body.owner.id).toBe(first.body.owner.id);
  });

  const bad: [string, unknown, number, string][] = [
    ['upper-case slug', valid('WWW'), 400, 'VALIDATION_FAILED'],
    ['one-character slug', valid('a'), 400, 'VALIDATION_FAILED'],
    ['64-character slug', valid(`a${'b'.repeat(63)}`), 400, 'VALIDATION_FAILED'],
    ['SQL in the slug', valid('drop;--'), 400, 'VALIDATION_FAILED'],
    ['reserved www', valid('www'), 400, 'INVALID_SLUG'],
    ['reserved api', valid('api'), 400, 'INVALID_SLUG'],
    ['reserved admin', valid('admin'), 400, 'INVALID_SLUG'],
    ['reserved status', valid('status'), 400, 'INVALID_SLUG'],
    ['missing fields', { name: 'x', slug: 'missing' }, 400, 'VALIDATION_FAILED'],
    ['unknown field', valid('extra', { schemaName: 'tenant_other' }), 400, 'VALIDATION_FAILED'],
    ['isolation chosen by a non-admin', valid('chooser', { isolation: 'pooled' }), 403, 'FORBIDDEN'],
    ['bad email', valid('bademail', { ownerEmail: 'not-an-email' }), 400, 'VALIDATION_FAILED'],
    ['short password', valid('shortpw', { ownerPassword: 'x' }), 400, 'VALIDATION_FAILED'],
    ['unknown plan', valid('noplan', { plan: 'platinum' }), 400, 'PLAN_NOT_AVAILABLE'],
    ['array body', [1, 2], 400, 'VALIDATION_FAILED'],
  ];
  it.each(bad)('refuses %s with a clear error and leaves nothing behind', async (_what, body, status, code) => {
    const res = await request(fx.srv.url, '/api/tenants/create', { body });
    expect(res.status, res.text).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message.length).toBeGreaterThan(5);
  });

  it('refuses malformed JSON with 400 MALFORMED_JSON', async () => {
    const res = await request(fx.srv.url, '/api/tenants/create', { rawBody: '{"name": "x", ' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: { code: 'MALFORMED_JSON', message: 'The request body is not valid JSON' } });
  });

  it('still refuses a reserved slug at the database when the edge check is bypassed', async () => {
    await expect(
      fx.db.pool.query(`insert into public.tenants (name, slug, isolation) values ('x', 'www', 'pooled')`),
    ).rejects.toMatchObject({
      constraint: 'tenants_slug_not_reserved',
    });
    await expect(
      fx.db.pool.query(`insert into public.tenants (name, slug, isolation) values ('x', 'Bad;slug', 'pooled')`),
    ).rejects.toMatchObject({ constraint: 'tenants_slug_format' });
  });
});

describe('provisioning failures leave nothing behind', () => {
  it('a failing step after the schema is created: no tenant row, identity, schema or role', async () => {
    const undone: string[] = [];
    await expect(
      makeTenant(fx.db, 'failco', {
        email: 'admin@failco.com',
        steps: [
          {
            name: 'ok-step',
            run: () => Promise.resolve(),
            undo: (t) => {
              undone.push(t.slug);
              return Promise.resolve();
            },
          },
          {
            name: 'boom',
            run: async (t) => {
              // The schema really exists at this point.
              const { rowCount } = await fx.db.pool.query('select 1 from pg_namespace where nspname = $1', [t.schema_name]);
              expect(rowCount).toBe(1);
              throw new Error('injected failure');
            },
          },
        ],
      }),
    ).rejects.toThrow('injected failure');
    expect(undone).toEqual(['failco']);
    expect(await footprint('failco')).toEqual({ tenants: 0, identities: 0, schemas: 0, roles: 0 });
  });

  it('a template that breaks half way: the transaction leaves nothing', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'broken-template-'));
    await writeFile(path.join(dir, '0001_init.sql'), await readFile(path.join(TEMPLATE_DIR, '0001_init.sql'), 'utf8'));
    await writeFile(path.join(dir, '0002_broken.sql'), 'create table ok_table (id uuid primary key);\nselect 1/0;\n');
    await expect(makeTenant(fx.db, 'brokenco', { templateDir: dir, email: 'admin@brokenco.com' })).rejects.toThrow(/division by zero/);
    expect(await footprint('brokenco')).toEqual({ tenants: 0, identities: 0, schemas: 0, roles: 0 });
  });
});

describe('POST /api/auth/login', () => {
  it('issues a token scoped to the tenant of the host and the member role', async () => {
    await makeTenant(fx.db, 'loginco');
    const ok = await request(fx.srv.url, '/api/auth/login', {
      host: 'loginco.saas.test',
      body: { email: 'owner@loginco.example.com', password: 'correct horse battery' },
    });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({ role: 'owner', tenant: { slug: 'loginco' } });
    const claims = JSON.parse(Buffer.from(ok.body.token.split('.')[1], 'base64url').toString());
    expect(claims['https://hasura.io/jwt/claims']).toMatchObject({
      'x-hasura-default-role': 'owner',
      'x-hasura-allowed-roles': ['owner', 'tenant_admin', 'member'],
      'x-hasura-tenant-id': ok.body.tenant.id,
      'x-hasura-user-id': ok.body.userId,
    });
  });

  it("never names Hasura's superuser role `admin` in a tenant admin's claims (JWT mode)", async () => {
    const t = await makeTenant(fx.db, 'adminclaims');
    const tokens = fx.srv.ctx.tokens;
    const { token } = tokens.sign({ userId: t.ownerId, tenantId: t.tenant.id, role: 'admin' });
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString())['https://hasura.io/jwt/claims'];
    expect(claims['x-hasura-default-role']).toBe('tenant_admin');
    expect(claims['x-hasura-allowed-roles']).toEqual(['tenant_admin', 'member']);
    expect(tokens.verify(token)).toMatchObject({ role: 'admin', allowedRoles: ['admin', 'member'] });
  });

  it.each([
    ['wrong password', { email: 'owner@loginco.example.com', password: 'nope' }, 401, 'INVALID_CREDENTIALS'],
    ['unknown email', { email: 'ghost@loginco.example.com', password: 'whatever1' }, 401, 'INVALID_CREDENTIALS'],
    ['missing password', { email: 'owner@loginco.example.com' }, 400, 'VALIDATION_FAILED'],
  ])('refuses %s', async (_what, body, status, code) => {
    const res = await request(fx.srv.url, '/api/auth/login', { host: 'loginco.saas.test', body });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
  });

  it('does not log a member of one tenant into another', async () => {
    await makeTenant(fx.db, 'otherco');
    const res = await request(fx.srv.url, '/api/auth/login', {
      host: 'otherco.saas.test',
      body: { email: 'owner@loginco.example.com', password: 'correct horse battery' },
    });
    expect(res.status).toBe(401);
  });

  it('answers an unknown tenant host with 404', async () => {
    const res = await request(fx.srv.url, '/api/auth/login', {
      host: 'nobody.saas.test',
      body: { email: 'owner@loginco.example.com', password: 'correct horse battery' },
    });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('TENANT_NOT_FOUND');
  });
});
