// Usage metering: triggers record every change in the same transaction (exact
// under concurrency, nothing for rolled-back work), public.tenant_usage answers
// the documented query per month, API calls are counted by the REST middleware and
// written in batches, and the REST endpoints answer members of the tenant only.
import { beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { addMember, makeTenant, type MadeTenant } from '../support/factories.ts';
import { createPool } from '../../actions-server/src/db/database.ts';
import { withTransaction, type Client } from '../../actions-server/src/db/tx.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { periodsUntil, usagePeriod } from '../../actions-server/src/usage/service.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';
import { asPersona } from '../support/personas.ts';

const fx = useTestServer({ RATE_LIMIT_ENABLED: 'false' });

const PERIOD = usagePeriod();

const asTenantRole = (made: MadeTenant, fn: (c: Client) => Promise<unknown>, pool = fx.db.pool) =>
  withTenantData(pool, tenantPlacementOf(made.tenant), made.ownerId, fn);

/** The documented query, as the owner. */
const usageRow = async (tenantId: string, period = PERIOD) =>
  (await fx.db.pool.query('SELECT * FROM public.tenant_usage WHERE tenant_id = $1 AND period = $2', [tenantId, period])).rows[0];

const tokenFor = (userId: string, tenantId: string, role: 'owner' | 'admin' | 'member') =>
  fx.srv.ctx.tokens.sign({ userId, tenantId, role }).token;

describe('message metering', () => {
  it('8 concurrent writers insert 10,000 messages: messages_total is exactly 10,000', async () => {
    const made = await makeTenant(fx.db, 'busy');
    const channelId = (
      (await asTenantRole(made, (c) => c.query(`insert into channels (name) values ('general') returning id`))) as {
        rows: { id: string }[];
      }
    ).rows[0]!.id;
    const writers = createPool(fx.db.url, 8);
    try {
      // Each writer: 250 single-row transactions and 10 batches of 100 (1,250),
      // plus work that is undone and must count for nothing.
      await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          for (let i = 0; i < 250; i++) {
            await asTenantRole(
              made,
              (c) => c.query('insert into messages (channel_id, body) values ($1, $2)', [channelId, `w${w} m${i}`]),
              writers,
            );
          }
          for (let b = 0; b < 10; b++) {
            await asTenantRole(
              made,
              async (c) => {
                await c.query(`insert into messages (channel_id, body) select $1, 'batch ' || g from generate_series(1, 100) g`, [
                  channelId,
                ]);
                await c.query('savepoint undone');
                await c.query(`insert into messages (channel_id, body) select $1, 'undone' from generate_series(1, 7) g`, [channelId]);
                await c.query('rollback to savepoint undone');
              },
              writers,
            );
          }
          await expect(
            asTenantRole(
              made,
              async (c) => {
                await c.query(`insert into messages (channel_id, body) select $1, 'aborted' from generate_series(1, 50) g`, [channelId]);
                throw new Error('abort this transaction');
              },
              writers,
            ),
          ).rejects.toThrow('abort this transaction');
        }),
      );
    } finally {
      await writers.end();
    }
    expect(Number((await fx.db.pool.query('select count(*) from tenant_busy.messages')).rows[0].count)).toBe(10_000);
    expect(await usageRow(made.tenant.id)).toMatchObject({ tenant_id: made.tenant.id, period: PERIOD, messages_total: '10000' });
  });

  it('counts a transaction once however it ends its deferred work, and only its own tenant', async () => {
    const a = await makeTenant(fx.db, 'meter-a');
    const b = await makeTenant(fx.db, 'meter-b');
    for (const t of [a, b]) await asTenantRole(t, (c) => c.query(`insert into channels (name) values ('general')`));
    await withTransaction(fx.db.pool, async (c) => {
      // One owner transaction across two tenants' schemas, with the deferred flush forced half way.
      await c.query(`insert into "tenant_meter-a".messages (channel_id, body) select id, 'x' from "tenant_meter-a".channels`);
      await c.query('set constraints all immediate');
      await c.query('set constraints all deferred');
      await c.query(`insert into "tenant_meter-a".messages (channel_id, body) select id, 'y' from "tenant_meter-a".channels`);
      await c.query(
        `insert into "tenant_meter-b".messages (channel_id, body) select c.id, 'z' from "tenant_meter-b".channels c, generate_series(1, 3)`,
      );
    });
    expect((await usageRow(a.tenant.id))?.messages_total).toBe('2');
    expect((await usageRow(b.tenant.id))?.messages_total).toBe('3');
  });

  it('in the pooled table: each row counted for its own tenant, concurrent writers exact, undone rows not counted', async () => {
    const a = await makeTenant(fx.db, 'pool-meter-a', { isolation: 'pooled' });
    const b = await makeTenant(fx.db, 'pool-meter-b', { isolation: 'pooled' });
    for (const t of [a, b]) await asTenantRole(t, (c) => c.query(`insert into channels (name) values ('general')`));
    // One owner statement writing both tenants' rows (2 for a, 3 for b), with undone work and a flush forced half way.
    const both = `insert into pooled.messages (tenant_id, channel_id, body)
                  select ch.tenant_id, ch.id, 'm' || g from pooled.channels ch
                  cross join generate_series(1, case when ch.tenant_id = $1 then $3::int else $4::int end) g
                  where ch.tenant_id in ($1, $2)`;
    await withTransaction(fx.db.pool, async (c) => {
      await c.query(both, [a.tenant.id, b.tenant.id, 2, 3]);
      await c.query('savepoint undone');
      await c.query(both, [a.tenant.id, b.tenant.id, 5, 5]);
      await c.query('rollback to savepoint undone');
      await c.query('set constraints all immediate');
      await c.query('set constraints all deferred');
      await c.query(both, [a.tenant.id, b.tenant.id, 1, 0]);
    });
    // 4 writers on tenant a, one message per transaction, and a transaction each that aborts.
    const writers = createPool(fx.db.url, 4);
    try {
      await Promise.all(
        Array.from({ length: 4 }, async (_, w) => {
          for (let i = 0; i < 25; i++) {
            await asTenantRole(
              a,
              (c) => c.query(`insert into messages (channel_id, body) select id, $1 from channels`, [`w${w} ${i}`]),
              writers,
            );
          }
          await expect(
            asTenantRole(
              a,
              async (c) => {
                await c.query(`insert into messages (channel_id, body) select id, 'aborted' from channels`);
                throw new Error('abort this transaction');
              },
              writers,
            ),
          ).rejects.toThrow('abort this transaction');
        }),
      );
    } finally {
      await writers.end();
    }
    expect((await usageRow(a.tenant.id))?.messages_total).toBe('103');
    expect((await usageRow(b.tenant.id))?.messages_total).toBe('3');
    const rows = await fx.db.pool.query<{ tenant_id: string; n: string }>(
      'select tenant_id, count(*)::text as n from pooled.messages where tenant_id in ($1, $2) group by tenant_id',
      [a.tenant.id, b.tenant.id],
    );
    expect(Object.fromEntries(rows.rows.map((r) => [r.tenant_id, r.n]))).toEqual({ [a.tenant.id]: '103', [b.tenant.id]: '3' });
  });

  it('keeps every counter row well formed: a malformed period or an out-of-range shard is refused, on insert and on update', async () => {
    const made = await makeTenant(fx.db, 'meter-shape');
    await asTenantRole(made, async (c) => {
      await c.query(`insert into channels (name) values ('general')`);
      await c.query(`insert into messages (channel_id, body) select id, 'x' from channels`);
    });
    const insert = (period: string, shard: number) =>
      fx.db.pool.query('insert into public.tenant_usage_counters (tenant_id, period, shard, messages_total) values ($1, $2, $3, 1)', [
        made.tenant.id,
        period,
        shard,
      ]);
    const update = (set: string, value: string | number) =>
      fx.db.pool.query(`update public.tenant_usage_counters set ${set} = $2 where tenant_id = $1`, [made.tenant.id, value]);
    for (const [period, shard] of [
      ['2026-13', 1],
      ['2026-1', 1],
      ['2001-01', 64],
      ['2001-01', -1],
    ] as const) {
      await expect(insert(period, shard), `${period} ${shard}`).rejects.toMatchObject({ code: '23514' });
    }
    await expect(update('period', 'next')).rejects.toMatchObject({ code: '23514' });
    await expect(update('shard', 99)).rejects.toMatchObject({ code: '23514' });
    expect((await usageRow(made.tenant.id))?.messages_total).toBe('1');
  });

  it('costs no parse per statement: the WHEN clauses of the messages triggers call no SQL function', async () => {
    // The planner inlines a SQL function by parsing its body again, and a WHEN
    // clause is planned for every statement (PL/pgSQL is compiled once per session).
    const made = await makeTenant(fx.db, 'meter-when');
    const { rows } = await fx.db.pool.query<{ rel: string; fn: string; lang: string }>(
      `select t.tgrelid::regclass::text as rel, p.oid::regprocedure::text as fn, l.lanname as lang
       from pg_trigger t
       join pg_depend d on d.classid = 'pg_trigger'::regclass and d.objid = t.oid and d.refclassid = 'pg_proc'::regclass
       join pg_proc p on p.oid = d.refobjid and p.oid <> t.tgfoid
       join pg_language l on l.oid = p.prolang
       where t.tgname = '_800_usage' and t.tgrelid in ('pooled.messages'::regclass, $1::regclass)
       order by 1`,
      [`"${made.tenant.schema_name!}".messages`],
    );
    expect(rows).toEqual([
      { rel: `"${made.tenant.schema_name!}".messages`, fn: 'usage_tally(text)', lang: 'plpgsql' },
      { rel: 'pooled.messages', fn: 'usage_tally(text)', lang: 'plpgsql' },
    ]);
  });
});

describe('public.tenant_usage', () => {
  it('reports users, channels, storage and files as they stand, and keeps past months', async () => {
    const made = await makeTenant(fx.db, 'gauges');
    await asTenantRole(made, async (c) => {
      await c.query(`insert into members (display_name) values ('two'), ('three')`);
      await c.query(`insert into channels (name) values ('a'), ('b')`);
      await c.query(`insert into files (name, size_bytes) values ('x', 1000), ('y', 24)`);
    });
    expect(await usageRow(made.tenant.id)).toEqual({
      tenant_id: made.tenant.id,
      period: PERIOD,
      users_total: '3',
      channels_total: '2',
      messages_total: '0',
      storage_bytes: '1024',
      files_count: '2',
      api_calls_total: '0',
      api_calls_by_endpoint: {},
    });

    // As if the tenant had existed since 2024-01 and last changed in 2024-03:
    // the next change closes 2024-03 into the history.
    await fx.db.pool.query(`update public.tenants set created_at = '2024-01-10T00:00:00Z' where id = $1`, [made.tenant.id]);
    await fx.db.pool.query(`update public.tenant_counter_base set period = '2024-03' where tenant_id = $1`, [made.tenant.id]);
    await asTenantRole(made, (c) => c.query(`insert into channels (name) values ('c')`));
    const history = await fx.db.pool.query('select period, channels_total from public.tenant_usage_history where tenant_id = $1', [
      made.tenant.id,
    ]);
    expect(history.rows).toEqual([{ period: '2024-03', channels_total: '2' }]);

    const months = await fx.db.pool.query<{ period: string; channels_total: string }>(
      `select period, channels_total from public.tenant_usage where tenant_id = $1 and period <= '2024-05' order by period`,
      [made.tenant.id],
    );
    expect(months.rows).toEqual([
      { period: '2024-01', channels_total: '0' },
      { period: '2024-02', channels_total: '0' },
      { period: '2024-03', channels_total: '2' },
      { period: '2024-04', channels_total: '2' },
      { period: '2024-05', channels_total: '2' },
    ]);
    expect((await usageRow(made.tenant.id))?.channels_total).toBe('3');
  });

  it('shows the app only its own tenant', async () => {
    const a = await makeTenant(fx.db, 'view-a');
    const b = await makeTenant(fx.db, 'view-b');
    await asPersona(fx.db.pool, { kind: 'app', tenantId: a.tenant.id }, async (client) => {
      const { rows } = await client.query('select tenant_id from public.tenant_usage where tenant_id in ($1, $2)', [
        a.tenant.id,
        b.tenant.id,
      ]);
      expect(rows).toEqual([{ tenant_id: a.tenant.id }]);
    });
    expect(await usageRow(b.tenant.id)).toBeDefined();
  });
});

describe('GET /api/tenants/:id/usage', () => {
  let acme: MadeTenant;
  let globex: MadeTenant;
  let ownerToken: string;

  beforeAll(async () => {
    acme = await makeTenant(fx.db, 'acme');
    globex = await makeTenant(fx.db, 'globex');
    ownerToken = tokenFor(acme.ownerId, acme.tenant.id, 'owner');
    await asTenantRole(acme, (c) => c.query(`insert into channels (name) values ('general'), ('random')`));
  });

  it("answers a member with this month's usage, API calls by endpoint included", async () => {
    for (let i = 0; i < 3; i++) {
      expect((await request(fx.srv.url, '/api/health', { host: 'acme.saas.test', token: ownerToken })).status).toBe(200);
    }
    const res = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage`, { host: 'acme.saas.test', token: ownerToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body.usage).toEqual({
      tenantId: acme.tenant.id,
      period: PERIOD,
      usersTotal: 1,
      channelsTotal: 2,
      messagesTotal: 0,
      storageBytes: 0,
      filesCount: 0,
      apiCallsTotal: 3,
      apiCallsByEndpoint: { 'GET /api/health': 3 },
      // every product meter, with nothing tracked yet (free: api-calls capped at 1,000)
      meters: [
        {
          meterId: 'api-calls',
          name: 'API calls',
          unit: 'call',
          aggregation: 'sum',
          period: PERIOD,
          usage: 0,
          events: 0,
          cap: 1000,
          enforcement: 'hard',
          remaining: 1000,
          overage: 0,
        },
      ],
    });
    const again = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage?period=${PERIOD}`, {
      host: 'acme.saas.test',
      token: ownerToken,
    });
    expect(again.body.usage.apiCallsByEndpoint).toEqual({ 'GET /api/health': 3, 'GET /api/tenants/:id/usage': 1 });
  });

  it('answers a month before the tenant existed with zeros, and refuses a malformed or future month', async () => {
    const old = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage?period=2001-01`, {
      host: 'acme.saas.test',
      token: ownerToken,
    });
    expect(old.status).toBe(200);
    expect(old.body.usage).toMatchObject({ period: '2001-01', channelsTotal: 0, apiCallsTotal: 0 });
    for (const period of ['2026-13', 'last-month', '9999-12']) {
      const res = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage?period=${period}`, {
        host: 'acme.saas.test',
        token: ownerToken,
      });
      expect(res.status, period).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    }
  });

  it("refuses another tenant's token, on either host, and anonymous callers", async () => {
    const globexToken = tokenFor(globex.ownerId, globex.tenant.id, 'owner');
    const onAcmeHost = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage`, { host: 'acme.saas.test', token: globexToken });
    expect(onAcmeHost.status).toBe(403);
    expect(onAcmeHost.body.error.code).toBe('TENANT_MISMATCH');
    const onOwnHost = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage`, { host: 'globex.saas.test', token: globexToken });
    expect(onOwnHost.status).toBe(403);
    expect(onOwnHost.body.error.code).toBe('FORBIDDEN');
    expect((await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage`, { host: 'acme.saas.test' })).status).toBe(401);
  });

  it('gives owners and admins the report with overage against the plan, not members', async () => {
    const member = await addMember(fx.db, acme.tenant, 'member@acme.example.com', 'member');
    const memberToken = tokenFor(member.id, acme.tenant.id, 'member');
    expect((await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage`, { host: 'acme.saas.test', token: memberToken })).status).toBe(
      200,
    );
    const refused = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage/report`, {
      host: 'acme.saas.test',
      token: memberToken,
    });
    expect(refused.status).toBe(403);

    // Seven channels, then a downgrade target of five: two over.
    await fx.db.pool.query(`update public.tenants set plan = 'pro' where id = $1`, [acme.tenant.id]);
    await asTenantRole(acme, (c) => c.query(`insert into channels (name) select 'more ' || g from generate_series(1, 5) g`));
    await fx.db.pool.query(`update public.tenants set plan = 'free' where id = $1`, [acme.tenant.id]);

    const res = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/usage/report`, { host: 'acme.saas.test', token: ownerToken });
    expect(res.status, res.text).toBe(200);
    expect(res.body.report).toMatchObject({ tenantId: acme.tenant.id, period: PERIOD, plan: 'free', overLimit: true });
    expect(res.body.report.limits).toEqual([
      { resource: 'users', usage: 1, limit: 10, remaining: 9, overage: 0, atLimit: false, exceeded: false },
      { resource: 'channels', usage: 7, limit: 5, remaining: 0, overage: 2, atLimit: true, exceeded: true },
      { resource: 'storage_bytes', usage: 0, limit: 1024 ** 3, remaining: 1024 ** 3, overage: 0, atLimit: false, exceeded: false },
      {
        resource: 'api_calls_month',
        usage: res.body.report.usage.apiCallsTotal,
        limit: 1000,
        remaining: 1000 - res.body.report.usage.apiCallsTotal,
        overage: 0,
        atLimit: false,
        exceeded: false,
      },
    ]);
    expect(res.body.report.usage.apiCallsTotal).toBeGreaterThan(0);
  });

  it('gives owners and admins the history month by month, each month against the plan limits', async () => {
    const made = await makeTenant(fx.db, 'history');
    const token = tokenFor(made.ownerId, made.tenant.id, 'owner');
    const host = 'history.saas.test';
    await fx.db.pool.query(`update public.tenants set created_at = now() - interval '2 months' where id = $1`, [made.tenant.id]);
    const [twoAgo, lastMonth, thisMonth] = periodsUntil(PERIOD, 3) as [string, string, string];
    await fx.db.pool.query(
      `insert into public.tenant_usage_history (tenant_id, period, users_total, channels_total, storage_bytes, files_count)
       values ($1, $2, 4, 2, 100, 1)`,
      [made.tenant.id, twoAgo],
    );
    await fx.db.pool.query(`insert into public.tenant_api_calls (tenant_id, period, endpoint, calls) values ($1, $2, 'GET /x', 1500)`, [
      made.tenant.id,
      lastMonth,
    ]);
    const res = await request(fx.srv.url, `/api/tenants/${made.tenant.id}/usage/history?months=4`, { host, token });
    expect(res.status, res.text).toBe(200);
    expect(res.body.history.plan).toBe('free');
    expect(res.body.history.months.map((m: { period: string }) => m.period)).toEqual([...periodsUntil(PERIOD, 4)]);
    const line = (period: string, resource: string) =>
      res.body.history.months
        .find((m: { period: string }) => m.period === period)
        .limits.find((l: { resource: string }) => l.resource === resource);
    // Before the tenant existed: nothing; a level (users) carries over to the next month; a month's calls are its own.
    expect(line(periodsUntil(PERIOD, 4)[0]!, 'users')).toMatchObject({ usage: 0, limit: 10 });
    expect(line(twoAgo, 'users')).toMatchObject({ usage: 4, limit: 10 });
    expect(line(lastMonth, 'api_calls_month')).toMatchObject({ usage: 1500, limit: 1000, overage: 500, exceeded: true });
    expect(line(thisMonth, 'users')).toMatchObject({ usage: 1 });

    const member = await addMember(fx.db, made.tenant, 'member@history.example.com', 'member');
    const refused = await request(fx.srv.url, `/api/tenants/${made.tenant.id}/usage/history`, {
      host,
      token: tokenFor(member.id, made.tenant.id, 'member'),
    });
    expect(refused.status).toBe(403);
    for (const query of ['months=0', 'months=25', 'months=x', 'period=2999-01', 'other=1']) {
      const bad = await request(fx.srv.url, `/api/tenants/${made.tenant.id}/usage/history?${query}`, { host, token });
      expect([bad.status, bad.body.error.code], query).toEqual([400, 'VALIDATION_FAILED']);
    }
    const defaults = await request(fx.srv.url, `/api/tenants/${made.tenant.id}/usage/history`, { host, token });
    expect(defaults.body.history.months).toHaveLength(12);
    expect(defaults.body.history.months.at(-1).period).toBe(PERIOD);
  });
});

// Every tier is metered by the same triggers; a database tenant's counters live
// in its own database and the usage routes mirror them into the main registry
// before reading, so the answer (and check_tenant_limits) is the same.
describe.each(['pooled', 'database'] as const)('a %s tenant', (isolation) => {
  it('is metered like any other and reported by GET /api/tenants/:id/usage and /usage/report', async () => {
    const made = await makeTenant(fx.db, `metered-${isolation}`, { isolation });
    await withTenantData(fx.db, tenantPlacementOf(made.tenant), made.ownerId, async (c) => {
      await c.query(`insert into members (display_name) values ('two')`);
      const ch = (await c.query<{ id: string }>(`insert into channels (name) values ('a'), ('b') returning id`)).rows[0]!;
      await c.query(`insert into messages (channel_id, body) select $1, 'm' || g from generate_series(1, 25) g`, [ch.id]);
      await c.query(`insert into files (name, size_bytes) values ('x', 1000), ('y', 24)`);
    });
    const host = `${made.tenant.slug}.saas.test`;
    const token = tokenFor(made.ownerId, made.tenant.id, 'owner');
    const res = await request(fx.srv.url, `/api/tenants/${made.tenant.id}/usage`, { host, token });
    expect(res.status, res.text).toBe(200);
    expect(res.body.usage).toMatchObject({ usersTotal: 2, channelsTotal: 2, messagesTotal: 25, storageBytes: 1024, filesCount: 2 });
    const report = await request(fx.srv.url, `/api/tenants/${made.tenant.id}/usage/report`, { host, token });
    expect(report.body.report.limits[1]).toMatchObject({ resource: 'channels', usage: 2, limit: 5, remaining: 3 });
    // The documented query on the main database agrees.
    expect(await usageRow(made.tenant.id)).toMatchObject({
      users_total: '2',
      channels_total: '2',
      messages_total: '25',
      storage_bytes: '1024',
    });
  });
});

describe('API calls', () => {
  it('past the monthly quota get 429 QUOTA_EXCEEDED; other tenants are unaffected', async () => {
    const capped = await makeTenant(fx.db, 'capped');
    const free = await makeTenant(fx.db, 'freeco');
    await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{"max_api_calls_month": 5}' where tenant_id = $1`, [
      capped.tenant.id,
    ]);
    // Only the tenant's authenticated callers count.
    const cappedToken = tokenFor(capped.ownerId, capped.tenant.id, 'owner');
    for (let i = 0; i < 5; i++)
      expect((await request(fx.srv.url, '/api/health', { host: 'capped.saas.test', token: cappedToken })).status).toBe(200);
    const over = await request(fx.srv.url, '/api/health', { host: 'capped.saas.test', token: cappedToken });
    expect(over.status).toBe(429);
    expect(over.body.error).toMatchObject({
      code: 'QUOTA_EXCEEDED',
      details: { limit: 'api_calls_month', max: 5, usage: 5, period: PERIOD },
    });
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
    expect(
      (await request(fx.srv.url, '/api/health', { host: 'freeco.saas.test', token: tokenFor(free.ownerId, free.tenant.id, 'owner') }))
        .status,
    ).toBe(200);

    // Refused calls are not counted.
    await fx.srv.ctx.usage.flush();
    const { rows } = await fx.db.pool.query('select sum(calls)::int as n from public.tenant_api_calls where tenant_id = $1', [
      capped.tenant.id,
    ]);
    expect(rows[0].n).toBe(5);
    expect((await usageRow(free.tenant.id))?.api_calls_total).toBe('1');
  });

  it('are written when the server stops, and the quota holds across processes once they are', async () => {
    const shared = await makeTenant(fx.db, 'shared');
    await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{"max_api_calls_month": 4}' where tenant_id = $1`, [
      shared.tenant.id,
    ]);
    const sharedToken = tokenFor(shared.ownerId, shared.tenant.id, 'owner');
    // A second process; its timer never fires within the test.
    const other = await startTestServer(fx.db, { RATE_LIMIT_ENABLED: 'false', USAGE_FLUSH_INTERVAL_MS: '60000' });
    try {
      for (let i = 0; i < 3; i++)
        expect((await request(other.url, '/api/health', { host: 'shared.saas.test', token: sharedToken })).status).toBe(200);
      expect((await usageRow(shared.tenant.id))?.api_calls_total).toBe('0');
    } finally {
      await other.close();
    }
    expect((await usageRow(shared.tenant.id))?.api_calls_total).toBe('3');
    expect((await request(fx.srv.url, '/api/health', { host: 'shared.saas.test', token: sharedToken })).status).toBe(200);
    expect((await request(fx.srv.url, '/api/health', { host: 'shared.saas.test', token: sharedToken })).status).toBe(429);
  });

  it('are not metered on the platform host', async () => {
    await fx.srv.ctx.usage.flush();
    const before = Number((await fx.db.pool.query('select count(*) from public.tenant_api_calls')).rows[0].count);
    expect((await request(fx.srv.url, '/api/health')).status).toBe(200);
    await fx.srv.ctx.usage.flush();
    expect(Number((await fx.db.pool.query('select count(*) from public.tenant_api_calls')).rows[0].count)).toBe(before);
  });
});
