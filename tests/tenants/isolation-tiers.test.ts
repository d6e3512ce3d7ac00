// The isolation contract (ARCHITECTURE.md §4) across placement tiers, proved by
// attack: tenant A (the attacker) goes after tenant B's product rows and
// registry rows through every path — SQL as `app` with A's app.tenant_id, SQL
// as `hasura` with a hasura.user naming A's tenant, A's own tenant role where
// A has one, and REST with A's token on B's host or naming B — for the tier
// pairs pooled/pooled, pooled/schema, schema/database and database/pooled.
// Every attack ends in an error or zero rows, and is paired with the same
// query as the owner, so nothing passes on an empty table.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { withTransaction, type Client, type Pool } from '../../actions-server/src/db/tx.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';

import type { Isolation } from '../../actions-server/src/tenants/records.ts';
import { databaseRefOf, tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';
import { enterPersona } from '../support/personas.ts';

const fx = useTestServer({ RATE_LIMIT_ENABLED: 'false' });

const PAIRS: [attacker: Isolation, victim: Isolation][] = [
  ['pooled', 'pooled'],
  ['pooled', 'schema'],
  ['schema', 'database'],
  ['database', 'pooled'],
];

/** Refused by PostgreSQL: no privilege on the object, or a row RLS does not admit. */
const REFUSED = /permission denied|row-level security/;

describe.each(PAIRS)('attacker %s, victim %s', (attackerTier, victimTier) => {
  let A: MadeTenant;
  let B: MadeTenant;
  let tokenA: string;
  let tokenB: string;
  const slug = (role: string) => `${role}-${attackerTier}-${victimTier}`;

  beforeAll(async () => {
    A = await makeTenant(fx.db, slug('attacker'), { isolation: attackerTier });
    B = await makeTenant(fx.db, slug('victim'), { isolation: victimTier });
    // B owns product data A will go after; A has some of its own.
    await withTenantData(fx.db, tenantPlacementOf(B.tenant), B.ownerId, async (c) => {
      const ch = (await c.query<{ id: string }>(`insert into channels (name) values ('secret-plans') returning id`)).rows[0]!;
      await c.query(`insert into messages (channel_id, body) values ($1, 'the plan')`, [ch.id]);
    });
    await withTenantData(fx.db, tenantPlacementOf(A.tenant), A.ownerId, (c) => c.query(`insert into channels (name) values ('own')`));
    tokenA = fx.srv.ctx.tokens.sign({ userId: A.ownerId, tenantId: A.tenant.id, role: 'owner' }).token;
    tokenB = fx.srv.ctx.tokens.sign({ userId: B.ownerId, tenantId: B.tenant.id, role: 'owner' }).token;
  });

  /** B's product tables as SQL names them where B's data lives, and the predicate that picks B's rows. */
  const victim = (table: string) =>
    B.tenant.isolation === 'pooled'
      ? {
          from: `pooled.${table}`,
          mine: 'tenant_id = $1',
          params: [B.tenant.id],
          insert: `insert into pooled.${table} (tenant_id, name) values ($1, 'pwned')`,
        }
      : {
          from: `"${B.tenant.schema_name}".${table}`,
          mine: '$1::uuid is not null',
          params: [B.tenant.id],
          insert: `insert into "${B.tenant.schema_name}".${table} (name) values ('pwned')`,
        };

  /** Runs fn as the owner in the database that holds B's product data (the main one, or B's own). */
  const inVictimDatabase = <T>(fn: (pool: Pool) => Promise<T>): Promise<T> =>
    B.tenant.isolation === 'database' ? fx.db.databases.withPool(databaseRefOf(B.tenant), fn) : fn(fx.db.pool);

  const victimCount = () =>
    inVictimDatabase(async (pool) => {
      const v = victim('channels');
      return (
        await pool.query<{ n: number }>(`select count(*)::int as n from ${v.from} where ${v.mine} and name = 'secret-plans'`, v.params)
      ).rows[0]!.n;
    });

  /** Every read and write of B's channels through `scope`: each refused by PostgreSQL or touching zero rows. */
  async function attackProductRows(scope: (c: Client) => Promise<void>) {
    const v = victim('channels');
    const attempt = (sql: string, params: unknown[] = v.params) =>
      inVictimDatabase((pool) =>
        withTransaction(pool, async (c) => {
          await scope(c);
          return c.query(sql, params);
        }),
      ).then(
        (r) => ({ rows: r.rowCount ?? 0, count: (r.rows[0] as { n?: number } | undefined)?.n }),
        (err: Error) => ({ error: err.message }),
      );
    const outcomes = {
      select: await attempt(`select count(*)::int as n from ${v.from} where ${v.mine}`),
      update: await attempt(`update ${v.from} set name = 'pwned' where ${v.mine}`),
      delete: await attempt(`delete from ${v.from} where ${v.mine}`),
      insert: await attempt(v.insert, B.tenant.isolation === 'pooled' ? v.params : []),
    };
    for (const [what, o] of Object.entries(outcomes)) {
      if ('error' in o) expect(o.error, what).toMatch(REFUSED);
      else if (what === 'select') expect(o.count, what).toBe(0);
      else expect(o.rows, what).toBe(0);
    }
    // The insert never succeeds: it is refused outright.
    expect(outcomes.insert).toHaveProperty('error');
    // The owner still finds B's row, untouched.
    expect(await victimCount()).toBe(1);
    return outcomes;
  }

  it("A's own data path never shows B's rows", async () => {
    const names = await withTenantData(fx.db, tenantPlacementOf(A.tenant), A.ownerId, async (c) =>
      (await c.query<{ name: string }>('select name from channels order by name')).rows.map((r) => r.name),
    );
    expect(names).toEqual(['own']);
    expect(await victimCount()).toBe(1);
  });

  it("SQL as app with A's app.tenant_id: B's product and registry rows are out of reach", async () => {
    const asApp = (c: Client) => enterPersona(c, { kind: 'app', tenantId: A.tenant.id });
    await attackProductRows(asApp);
    const registry = await withTransaction(fx.db.pool, async (c) => {
      await asApp(c);
      return (await c.query<{ n: number }>('select count(*)::int as n from public.memberships where tenant_id = $1', [B.tenant.id]))
        .rows[0]!.n;
    });
    expect(registry).toBe(0);
    expect((await fx.db.pool.query('select 1 from public.memberships where tenant_id = $1', [B.tenant.id])).rowCount).toBe(1);
  });

  it("SQL as hasura with a hasura.user naming A's tenant: nothing of B", async () => {
    const session = { 'x-hasura-role': 'owner', 'x-hasura-user-id': A.ownerId, 'x-hasura-tenant-id': A.tenant.id };
    const asHasura = (c: Client) => enterPersona(c, { kind: 'hasura', session });
    await attackProductRows(asHasura);
    const registry = await withTransaction(fx.db.pool, async (c) => {
      await asHasura(c);
      return (await c.query<{ n: number }>('select count(*)::int as n from public.tenants where id = $1', [B.tenant.id])).rows[0]!.n;
    });
    expect(registry).toBe(0);
  });

  it.skipIf(attackerTier === 'pooled')("A's own tenant role, even with B's tenant id set: refused outright", async () => {
    const outcomes = await attackProductRows((c) => enterPersona(c, { kind: 'tenant', dbRole: A.tenant.db_role!, tenantId: B.tenant.id }));
    // Not even zero rows: a tenant role holds no privilege outside its own schema.
    for (const [what, o] of Object.entries(outcomes)) expect(o, what).toHaveProperty('error', expect.stringMatching(/permission denied/));
  });

  it("REST: A's token on B's host, naming B on A's host or the platform host, or B's slug in a header: refused", async () => {
    const hostA = `${A.tenant.slug}.saas.test`;
    const hostB = `${B.tenant.slug}.saas.test`;
    const onB = await request(fx.srv.url, `/api/tenants/${B.tenant.id}`, { host: hostB, token: tokenA });
    expect(onB.status).toBe(403);
    expect(onB.body.error.code).toBe('TENANT_MISMATCH');
    for (const path of [`/api/tenants/${B.tenant.id}`, `/api/tenants/${B.tenant.id}/usage`, `/api/tenants/${B.tenant.id}/invitations`]) {
      for (const host of [hostA, 'saas.test']) {
        expect((await request(fx.srv.url, path, { host, token: tokenA })).status, `${host} ${path}`).toBe(403);
      }
    }
    const invite = await request(fx.srv.url, `/api/tenants/${B.tenant.id}/invitations`, {
      host: hostA,
      token: tokenA,
      body: { email: 'mole@attacker.example.com', role: 'admin' },
    });
    expect(invite.status).toBe(403);
    const header = await request(fx.srv.url, `/api/tenants/${B.tenant.id}`, {
      host: 'saas.test',
      token: tokenA,
      headers: { 'x-tenant-slug': B.tenant.slug },
    });
    expect(header.status).toBe(403);
    // The same routes answer B's owner, so the refusals are not broken routes.
    const own = await request(fx.srv.url, `/api/tenants/${B.tenant.id}/usage`, { host: hostB, token: tokenB });
    expect(own.status, own.text).toBe(200);
    expect(own.body.usage).toMatchObject({ tenantId: B.tenant.id, channelsTotal: 1, messagesTotal: 1 });
    expect((await fx.db.pool.query('select 1 from public.tenant_invitations where tenant_id = $1', [B.tenant.id])).rowCount).toBe(0);
  });
});

describe('pooled rows of another tenant', () => {
  it("a write naming a full tenant is refused by RLS, never with that tenant's plan or usage", async () => {
    const attacker = await makeTenant(fx.db, 'quota-attacker', { isolation: 'pooled' });
    const full = await makeTenant(fx.db, 'quota-victim', { isolation: 'pooled' });
    await withTenantData(fx.db, tenantPlacementOf(full.tenant), full.ownerId, (c) =>
      c.query(`insert into channels (name) select 'c' || g from generate_series(1, 5) g`),
    );
    // The limit trigger runs before RLS checks the row: it must not answer for another tenant.
    const err = await withTenantData(fx.db, tenantPlacementOf(attacker.tenant), attacker.ownerId, (c) =>
      c.query(`insert into channels (tenant_id, name) values ($1, 'sixth')`, [full.tenant.id]),
    ).catch((e: { code?: string; message: string }) => e);
    expect(err).toMatchObject({ code: '42501' });
    expect((err as Error).message).toMatch(/row-level security/);
    expect((err as Error).message).not.toMatch(/limit|free plan/);
    // The victim itself is held to its limit (the trigger is there).
    await expect(
      withTenantData(fx.db, tenantPlacementOf(full.tenant), full.ownerId, (c) => c.query(`insert into channels (name) values ('sixth')`)),
    ).rejects.toMatchObject({ code: 'SA429' });
  });
});
