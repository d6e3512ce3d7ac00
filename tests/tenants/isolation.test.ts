// The isolation contract (ARCHITECTURE.md §4), proved by attack: tenant A tries every
// path to B's rows and schema and gets an error or zero rows. Each attack is
// paired with the same query as the owner, so no test passes on an empty table.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { asTenant, withTransaction, type Client } from '../../actions-server/src/db/tx.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';
import { enterPersona, hasuraSession } from '../support/personas.ts';

let A: MadeTenant;
let B: MadeTenant;
let tokenA: string;

const fx = useTestServer();
beforeAll(async () => {
  A = await makeTenant(fx.db, 'alpha');
  B = await makeTenant(fx.db, 'beta');
  // B owns product data that A will go after.
  await fx.db.pool.query(`insert into tenant_beta.channels (name) values ('secret-plans')`);
  const login = await request(fx.srv.url, '/api/auth/login', {
    host: 'alpha.saas.test',
    body: { email: A.ownerEmail, password: OWNER_PASSWORD },
  });
  tokenA = login.body.token;
});

const asAppA = <T>(fn: (c: Client) => Promise<T>) => asTenant(fx.db.pool, { tenantId: A.tenant.id, userId: A.ownerId, dbRole: 'app' }, fn);

/** As Hasura runs a mutation: role hasura, hasura.user set for the transaction. */
const asHasuraA = <T>(fn: (c: Client) => Promise<T>, role = 'owner') =>
  withTransaction(fx.db.pool, async (c) => {
    await enterPersona(c, { kind: 'hasura', session: hasuraSession(role, A.ownerId, A.tenant.id) });
    return fn(c);
  });

const rlsError = /row-level security/;

describe.each([
  ['app with A in app.tenant_id', asAppA],
  ["hasura with A's hasura.user", asHasuraA],
])('as %s', (_name, asA) => {
  it('sees only its own tenant row, not B', async () => {
    const rows = await asA(async (c) => (await c.query<{ id: string }>('select id from public.tenants')).rows);
    expect(rows).toEqual([{ id: A.tenant.id }]);
    expect((await asA((c) => c.query('select 1 from public.tenants where id = $1', [B.tenant.id]))).rowCount).toBe(0);
    expect((await fx.db.pool.query('select 1 from public.tenants where id = $1', [B.tenant.id])).rowCount).toBe(1);
  });

  it("updates none of B's registry rows", async () => {
    expect((await asA((c) => c.query(`update public.tenants set name = 'pwned' where id = $1`, [B.tenant.id]))).rowCount).toBe(0);
    expect((await asA((c) => c.query(`update public.memberships set role = 'member' where tenant_id = $1`, [B.tenant.id]))).rowCount).toBe(
      0,
    );
    expect(
      (await asA((c) => c.query(`update public.tenant_settings set settings = '{"x":1}' where tenant_id = $1`, [B.tenant.id]))).rowCount,
    ).toBe(0);
    const b = await fx.db.pool.query('select name from public.tenants where id = $1', [B.tenant.id]);
    expect(b.rows[0].name).toBe('beta Inc');
    // the same update on its own rows works, so the zero above is the policy, not a broken query
    expect((await asA((c) => c.query(`update public.tenants set name = name where id = $1`, [A.tenant.id]))).rowCount).toBe(1);
  });

  it("deletes none of B's memberships", async () => {
    expect((await asA((c) => c.query('delete from public.memberships where tenant_id = $1', [B.tenant.id]))).rowCount).toBe(0);
    expect((await fx.db.pool.query('select 1 from public.memberships where tenant_id = $1', [B.tenant.id])).rowCount).toBe(1);
  });

  it('cannot insert a membership into B', async () => {
    await expect(
      asA((c) =>
        c.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'owner')`, [B.tenant.id, A.ownerId]),
      ),
    ).rejects.toThrow(rlsError);
  });

  it("cannot reach B's schema at all", async () => {
    await expect(asA((c) => c.query('select * from tenant_beta.channels'))).rejects.toThrow(/permission denied/);
    await expect(asA((c) => c.query(`insert into tenant_beta.channels (name) values ('x')`))).rejects.toThrow(/permission denied/);
  });

  it('cannot read password hashes', async () => {
    await expect(asA((c) => c.query('select password_hash from public.identities'))).rejects.toThrow(/permission denied/);
  });

  it('cannot change its own status or plan (platform-only columns)', async () => {
    await expect(
      asA((c) => c.query(`update public.tenants set status = 'active', plan = 'enterprise' where id = $1`, [A.tenant.id])),
    ).rejects.toThrow(/permission denied/);
  });
});

describe("tenant A's database role", () => {
  const asRoleA = <T>(fn: (c: Client) => Promise<T>) => withTenantData(fx.db.pool, tenantPlacementOf(A.tenant), A.ownerId, fn);

  it('works in its own schema', async () => {
    await asRoleA((c) => c.query(`insert into channels (name) values ('general')`));
    expect((await asRoleA((c) => c.query('select name from channels'))).rows).toEqual([{ name: 'general' }]);
  });

  it("cannot read, write or delete in tenant_beta, even with B's tenant id set", async () => {
    for (const sql of [
      'select * from tenant_beta.channels',
      `insert into tenant_beta.channels (name) values ('x')`,
      'delete from tenant_beta.channels',
      'update tenant_beta.channels set name = name',
    ]) {
      await expect(
        withTransaction(fx.db.pool, async (c) => {
          await enterPersona(c, { kind: 'tenant', dbRole: A.tenant.db_role!, tenantId: B.tenant.id });
          return c.query(sql);
        }),
      ).rejects.toThrow(/permission denied/);
    }
    expect((await fx.db.pool.query('select name from tenant_beta.channels')).rows).toEqual([{ name: 'secret-plans' }]);
  });

  // SET ROLE is checked against the session user, so the role guard protects
  // against wrong queries and filters, not against arbitrary SQL: no path runs
  // caller-supplied SQL (README, "How isolation is guaranteed").
  it('cannot read the registry', async () => {
    await expect(asRoleA((c) => c.query('select * from public.tenants'))).rejects.toThrow(/permission denied/);
    await expect(asRoleA((c) => c.query('select * from public.memberships'))).rejects.toThrow(/permission denied/);
  });
});

describe('REST paths', () => {
  it("A's token on B's host is refused with 403", async () => {
    const res = await request(fx.srv.url, `/api/tenants/${B.tenant.id}`, { host: 'beta.saas.test', token: tokenA });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('TENANT_MISMATCH');
  });

  it("A's token naming B's id on A's host or the platform host is refused", async () => {
    for (const host of ['alpha.saas.test', 'saas.test']) {
      const get = await request(fx.srv.url, `/api/tenants/${B.tenant.id}`, { host, token: tokenA });
      expect(get.status).toBe(403);
      const put = await request(fx.srv.url, `/api/tenants/${B.tenant.id}`, { host, token: tokenA, method: 'PUT', body: { name: 'pwned' } });
      expect(put.status).toBe(403);
      const del = await request(fx.srv.url, `/api/tenants/${B.tenant.id}`, { host, token: tokenA, method: 'DELETE' });
      expect(del.status).toBe(403);
    }
    const b = await fx.db.pool.query('select name, status from public.tenants where id = $1', [B.tenant.id]);
    expect(b.rows[0]).toEqual({ name: 'beta Inc', status: 'active' });
  });

  it("B's id in the body or an X-Tenant-Slug header does not redirect A's request", async () => {
    const body = await request(fx.srv.url, `/api/tenants/${A.tenant.id}`, {
      host: 'alpha.saas.test',
      token: tokenA,
      method: 'PUT',
      body: { name: 'renamed', tenantId: B.tenant.id },
    });
    expect(body.status).toBe(400);
    const header = await request(fx.srv.url, `/api/tenants/${B.tenant.id}`, {
      host: 'saas.test',
      token: tokenA,
      headers: { 'x-tenant-slug': 'beta', 'x-tenant-id': B.tenant.id },
    });
    expect(header.status).toBe(403);
    // A's own tenant still answers, so the refusals above are not a broken route
    const own = await request(fx.srv.url, `/api/tenants/${A.tenant.id}`, { host: 'alpha.saas.test', token: tokenA });
    expect(own.status).toBe(200);
    expect(own.body.tenant.slug).toBe('alpha');
  });

  it('a forged token (other secret) is refused', async () => {
    const [h, p] = tokenA.split('.');
    const forged = `${h}.${p}.${Buffer.from('not-the-signature').toString('base64url')}`;
    const res = await request(fx.srv.url, `/api/tenants/${A.tenant.id}`, { host: 'alpha.saas.test', token: forged });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_TOKEN');
  });
});

describe('one pool, many tenants', () => {
  it('concurrent transactions for A and B never see each other’s tenant setting', async () => {
    const runs = Array.from({ length: 60 }, (_, i) => (i % 2 === 0 ? A : B));
    const seen = await Promise.all(
      runs.map((t) =>
        asTenant(fx.db.pool, { tenantId: t.tenant.id, dbRole: 'app' }, async (c) => {
          await c.query('select pg_sleep(0.005)');
          const setting = (await c.query<{ t: string }>(`select current_setting('app.tenant_id') as t`)).rows[0]!.t;
          const ids = (await c.query<{ id: string }>('select id from public.tenants')).rows.map((r) => r.id);
          return { expected: t.tenant.id, setting, ids };
        }),
      ),
    );
    for (const s of seen) {
      expect(s.setting).toBe(s.expected);
      expect(s.ids).toEqual([s.expected]);
    }
    // nothing is left at session level on the pooled connections
    const after = await Promise.all(
      Array.from({ length: 10 }, () =>
        fx.db.pool.query<{ t: string | null; u: string }>(
          `select nullif(current_setting('app.tenant_id', true), '') as t, current_user as u`,
        ),
      ),
    );
    for (const r of after) expect(r.rows[0]!.t).toBeNull();
  });
});
