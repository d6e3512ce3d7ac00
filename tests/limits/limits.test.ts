// Plan limits are enforced by PostgreSQL itself (the _500_limits triggers), so
// they hold on every path and in every tier: a schema or database tenant's own
// role as the actions server uses it, and the same role carrying a member's
// Hasura session as a GraphQL mutation through its source; a pooled tenant's
// rows as `app` (the actions server) and as `hasura` with a member's session
// (a GraphQL mutation on the platform source). Each backend admits rows from a
// block of spare quota granted under the tenant's lock, so racing inserts
// cannot overshoot and writers far from the limit do not queue on one row; a
// downgrade keeps the data and only blocks growth.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { createPool } from '../../actions-server/src/db/database.ts';
import { withTransaction, type Client } from '../../actions-server/src/db/tx.ts';
import { toAppError } from '../../actions-server/src/core/errors.ts';
import { withTenantData, type TenantDataPools } from '../../actions-server/src/tenants/data.ts';
import { TenantDatabases } from '../../actions-server/src/tenants/databases.ts';
import type { Isolation } from '../../actions-server/src/tenants/records.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { databaseRefOf, tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';
import { asPersona, enterPersona, hasuraSession } from '../support/personas.ts';

const fx = useTestDb();

const GB = 1024 ** 3;

type Path = (made: MadeTenant, fn: (c: Client) => Promise<unknown>, pools?: TenantDataPools) => Promise<unknown>;

const memberSession = (made: MadeTenant) => hasuraSession('member', made.ownerId, made.tenant.id);

/** As the actions server works on tenant data, whatever the tier (tenants/data.ts). */
const asActionsServer: Path = (made, fn, pools = fx.db) => withTenantData(pools, tenantPlacementOf(made.tenant), made.ownerId, fn);

/** As a GraphQL mutation through a schema or database tenant's own Hasura source: its role, with a member's session set. */
const asHasuraSource: Path = (made, fn, pools = fx.db) =>
  withTenantData(pools, tenantPlacementOf(made.tenant), undefined, async (c) => {
    await enterPersona(c, { kind: 'tenant', dbRole: made.tenant.db_role!, session: memberSession(made) });
    return fn(c);
  });

/** As a GraphQL mutation on the platform source's pooled tables: role hasura, a member's session, nothing else. */
const asHasuraPlatform: Path = (made, fn, pools = fx.db) =>
  withTransaction(pools.pool, async (c) => {
    await enterPersona(c, { kind: 'hasura', session: memberSession(made), searchPath: ['pooled', 'public', 'pg_temp'] });
    return fn(c);
  });

const TIERS: [Isolation, [string, Path][]][] = [
  [
    'schema',
    [
      ["the tenant's role", asActionsServer],
      ["the tenant's role with a member's hasura.user", asHasuraSource],
    ],
  ],
  [
    'pooled',
    [
      ['app with the tenant in app.tenant_id', asActionsServer],
      ["hasura with a member's hasura.user", asHasuraPlatform],
    ],
  ],
  [
    'database',
    [
      ["the tenant's role in its database", asActionsServer],
      ["the same with a member's hasura.user", asHasuraSource],
    ],
  ],
];

async function expectQuota(p: Promise<unknown>, limit: string, message: RegExp): Promise<void> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the write should have been refused').toBeDefined();
  expect((err as { code?: string }).code).toBe('SA429');
  expect((err as Error).message).toMatch(message);
  const mapped = toAppError(err);
  expect(mapped.status).toBe(429);
  expect(mapped.code).toBe('QUOTA_EXCEEDED');
  expect(mapped.details).toMatchObject({ limit });
}

/** Runs a query as the owner where the tenant's product data and its counters are (main database, or its own). */
const asOwnerWhereDataIs = async <T extends pg.QueryResultRow>(made: MadeTenant, sql: string, params: unknown[]) =>
  made.tenant.isolation === 'database'
    ? fx.db.databases.withPool(databaseRefOf(made.tenant), async (pool) => (await pool.query<T>(sql, params)).rows)
    : (await fx.db.pool.query<T>(sql, params)).rows;

/** Rows of a product table of this tenant, as the owner. */
const count = async (made: MadeTenant, table: string): Promise<number> => {
  const from =
    made.tenant.isolation === 'pooled'
      ? `pooled.${pg.escapeIdentifier(table)} where tenant_id = $1`
      : `${pg.escapeIdentifier(made.tenant.schema_name!)}.${pg.escapeIdentifier(table)} where $1::uuid is not null`;
  return Number((await asOwnerWhereDataIs<{ n: string }>(made, `select count(*) as n from ${from}`, [made.tenant.id]))[0]!.n);
};

/** The counters the tenant's triggers keep (in a database tenant's own database). */
const counters = async (made: MadeTenant) =>
  (
    await asOwnerWhereDataIs<{ users_total: string; channels_total: string; storage_bytes: string; files_count: string }>(
      made,
      'select users_total, channels_total, storage_bytes, files_count from public.tenant_counters where tenant_id = $1',
      [made.tenant.id],
    )
  )[0];

/** A plan change in the registry; a database tenant's copy follows (what every server does on tenant_changed). */
const setPlan = async (made: MadeTenant, plan: string) => {
  await fx.db.pool.query('update public.tenants set plan = $2 where id = $1', [made.tenant.id, plan]);
  await fx.db.databases.syncRegistry(made.tenant.id);
};

let slugs = 0;
const nextSlug = (base: string) => `${base}${++slugs}`;

describe.each(TIERS)('a free %s tenant', (isolation, paths) => {
  describe.each(paths)('through %s', (_name, as) => {
    const make = (base: string) => makeTenant(fx.db, nextSlug(base), { isolation });

    it('cannot have an 11th member until it upgrades to pro', async () => {
      const made = await make('users');
      // The owner is the first member; nine more reach the free plan's ten.
      await as(made, (c) => c.query(`insert into members (display_name) select 'member ' || g from generate_series(2, 10) g`));
      expect(await count(made, 'members')).toBe(10);

      await expectQuota(
        as(made, (c) => c.query(`insert into members (display_name) values ('eleventh')`)),
        'users',
        /users limit reached: the free plan allows 10 users and this tenant has 10/,
      );
      expect(await count(made, 'members')).toBe(10);

      await setPlan(made, 'pro');
      await as(made, (c) => c.query(`insert into members (display_name) values ('eleventh')`));
      expect(await count(made, 'members')).toBe(11);
    });

    it('cannot have a 6th channel until it upgrades to pro', async () => {
      const made = await make('chan');
      await as(made, (c) => c.query(`insert into channels (name) select 'c' || g from generate_series(1, 5) g`));

      await expectQuota(
        as(made, (c) => c.query(`insert into channels (name) values ('sixth')`)),
        'channels',
        /channels limit reached: the free plan allows 5 channels and this tenant has 5/,
      );
      expect(await count(made, 'channels')).toBe(5);

      await setPlan(made, 'pro');
      await as(made, (c) => c.query(`insert into channels (name) values ('sixth')`));
      expect(await count(made, 'channels')).toBe(6);
    });

    it('cannot store a file that takes it past 1 GB, nor grow one past it, until it upgrades', async () => {
      const made = await make('store');
      await as(made, (c) => c.query(`insert into files (name, size_bytes) values ('big', $1), ('small', 100)`, [GB - 200]));

      await expectQuota(
        as(made, (c) => c.query(`insert into files (name, size_bytes) values ('straw', 101)`)),
        'storage_bytes',
        /storage limit reached: the free plan allows 1024 MB \(1073741824 bytes\) of files, 1073741724 bytes are used and this change needs 101 more/,
      );
      await expectQuota(
        as(made, (c) => c.query(`update files set size_bytes = size_bytes + 101 where name = 'small'`)),
        'storage_bytes',
        /storage limit reached/,
      );
      // Exactly up to the limit is fine, and shrinking always is.
      await as(made, (c) => c.query(`update files set size_bytes = size_bytes + 100 where name = 'small'`));
      await as(made, (c) => c.query(`update files set size_bytes = 1 where name = 'small'`));
      expect(await count(made, 'files')).toBe(2);

      await setPlan(made, 'pro');
      await as(made, (c) => c.query(`insert into files (name, size_bytes) values ('straw', $1)`, [2 * GB]));
      expect(await counters(made)).toMatchObject({ storage_bytes: String(3 * GB - 199), files_count: '3' });
    });
  });
});

describe('under concurrency', () => {
  // Each limited table, filled to one unit below the free plan's limit; every racer asks for one unit.
  const LIMITED = [
    {
      table: 'members',
      fill: `insert into members (display_name) select 'm' || g from generate_series(2, 9) g`,
      row: `insert into members (display_name) values ($1)`,
    },
    // With the 'general' channel made first, four.
    {
      table: 'channels',
      fill: `insert into channels (name) select 'c' || g from generate_series(1, 3) g`,
      row: `insert into channels (name) values ($1)`,
    },
    {
      table: 'files',
      fill: `insert into files (name, size_bytes) values ('fill', ${GB - 100})`,
      row: `insert into files (name, size_bytes) values ($1, 100)`,
    },
  ] as const;
  const RACERS = 12;

  /** Messages metered for the tenant (no lock: per-backend tallies flushed at commit). */
  const messagesMetered = async (made: MadeTenant) =>
    Number(
      (
        await asOwnerWhereDataIs<{ n: string }>(
          made,
          'select coalesce(sum(messages_total), 0)::text as n from public.tenant_usage_counters where tenant_id = $1',
          [made.tenant.id],
        )
      )[0]!.n,
    );

  it.each(['schema', 'pooled', 'database'] as const)(
    'in a free %s tenant, racers that hold their transactions open after inserting leave exactly one more row per limited table, and usage exact',
    async (isolation) => {
      const made = await makeTenant(fx.db, `racer-${isolation}`, { isolation });
      const channel = (await asActionsServer(made, (c) => c.query(`insert into channels (name) values ('general') returning id`))) as {
        rows: { id: string }[];
      };
      const channelId = channel.rows[0]!.id;
      // One connection per writer, so all really race.
      const pool = createPool(fx.db.url, RACERS);
      const databases = new TenantDatabases({
        mainUrl: fx.db.url,
        mainPool: pool,
        servers: {},
        poolSize: RACERS,
        maxPools: 2,
        idleMs: 60_000,
        log: createLogger('silent'),
      });
      try {
        for (const limited of LIMITED) {
          await asActionsServer(made, (c) => c.query(limited.fill));
          const messagesBefore = await messagesMetered(made);
          const rowsBefore = await count(made, limited.table);
          // Every racer is connected and inside its transaction before any checks its limit.
          let arrived = 0;
          let release!: () => void;
          const barrier = new Promise<void>((resolve) => (release = resolve));
          const results = await Promise.allSettled(
            Array.from({ length: RACERS }, (_, i) =>
              asActionsServer(
                made,
                async (c) => {
                  // A metered message in the same transaction: it must count only if the transaction commits.
                  await c.query(`insert into messages (channel_id, body) values ($1, 'racer')`, [channelId]);
                  if (++arrived === RACERS) release();
                  await barrier;
                  await c.query(limited.row, [`racer ${i}`]);
                  // Hold the transaction open: a check that is not serialised with this insert would let the others through.
                  await c.query('select pg_sleep(0.5)');
                },
                { pool, databases },
              ),
            ),
          );
          const refused = results.filter((r) => r.status === 'rejected');
          // Soft, so one run reports every table that overshot.
          expect
            .soft(
              results.filter((r) => r.status === 'fulfilled'),
              `${limited.table}: writers admitted`,
            )
            .toHaveLength(1);
          for (const r of refused) expect.soft((r.reason as { code?: string }).code, `${limited.table}: refusal`).toBe('SA429');
          expect.soft(await count(made, limited.table), `${limited.table}: rows`).toBe(rowsBefore + 1);
          expect.soft(await messagesMetered(made), `${limited.table}: messages metered`).toBe(messagesBefore + 1);
        }
      } finally {
        await databases.close();
        await pool.end();
      }
      // Counters exact: what the triggers kept equals what is there.
      expect(await counters(made)).toMatchObject({ users_total: '10', channels_total: '5', storage_bytes: String(GB), files_count: '2' });
    },
  );

  it('refuses a multi-row insert as a whole when it would overshoot', async () => {
    const made = await makeTenant(fx.db, 'batch');
    await asActionsServer(made, (c) => c.query(`insert into channels (name) select 'c' || g from generate_series(1, 4) g`));
    await expectQuota(
      asActionsServer(made, (c) => c.query(`insert into channels (name) values ('five'), ('six')`)),
      'channels',
      /this tenant has 5/,
    );
    expect(await count(made, 'channels')).toBe(4);
    expect((await counters(made))?.channels_total).toBe('4');
  });

  it('does not count an upsert that hit an existing row, in that statement or the next', async () => {
    const made = await makeTenant(fx.db, 'upsert');
    await asActionsServer(made, (c) => c.query(`insert into channels (name) select 'c' || g from generate_series(1, 4) g`));
    await asActionsServer(made, async (c) => {
      await c.query(`insert into channels (name) values ('c1') on conflict (name) do nothing`);
      await c.query(`insert into channels (name, is_private) values ('c2', true) on conflict (name) do update set is_private = true`);
      // Still room for the fifth in the same transaction.
      await c.query(`insert into channels (name) values ('c5')`);
    });
    expect(await count(made, 'channels')).toBe(5);
    expect((await counters(made))?.channels_total).toBe('5');
  });
});

describe('plan changes and overrides', () => {
  it('a downgrade below usage keeps every row but blocks growth until usage is back under the limit', async () => {
    const made = await makeTenant(fx.db, 'downer', { plan: 'pro', trial: true });
    await asActionsServer(made, (c) => c.query(`insert into channels (name) select 'c' || g from generate_series(1, 7) g`));
    await setPlan(made, 'free');
    expect(await count(made, 'channels')).toBe(7);

    await expectQuota(
      asActionsServer(made, (c) => c.query(`insert into channels (name) values ('eighth')`)),
      'channels',
      /the free plan allows 5 channels and this tenant has 7/,
    );
    const report = await fx.db.pool.query('select * from public.check_tenant_limits($1) where resource = $2', [made.tenant.id, 'channels']);
    expect(report.rows).toEqual([
      { resource: 'channels', usage: '7', max_value: '5', remaining: '0', overage: '2', at_limit: true, exceeded: true },
    ]);

    // Removing one is allowed (never blocked), adding still is until below five.
    await asActionsServer(made, (c) => c.query(`delete from channels where name in ('c7', 'c6', 'c5')`));
    await asActionsServer(made, (c) => c.query(`insert into channels (name) values ('back')`));
    await expectQuota(
      asActionsServer(made, (c) => c.query(`insert into channels (name) values ('over')`)),
      'channels',
      /has 5/,
    );
    expect(await count(made, 'channels')).toBe(5);
  });

  it('a custom override beats the plan, and malformed overrides are refused', async () => {
    const made = await makeTenant(fx.db, 'custom', { plan: 'pro', trial: true });
    await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{"max_channels": 2}' where tenant_id = $1`, [
      made.tenant.id,
    ]);
    await asActionsServer(made, (c) => c.query(`insert into channels (name) values ('a'), ('b')`));
    await expectQuota(
      asActionsServer(made, (c) => c.query(`insert into channels (name) values ('c')`)),
      'channels',
      /the pro plan allows 2 channels/,
    );

    for (const bad of ['{"max_channelz": 3}', '{"max_channels": 1.5}', '{"max_channels": -2}', '{"rate_limit_per_minute": 0}', '[]']) {
      await expect(
        fx.db.pool.query('update public.tenant_settings set limit_overrides = $2::jsonb where tenant_id = $1', [made.tenant.id, bad]),
        bad,
      ).rejects.toMatchObject({ code: '23514', constraint: 'tenant_settings_limit_overrides_valid' });
    }
    // Unlimited by override on a limited plan.
    await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{"max_channels": -1}' where tenant_id = $1`, [
      made.tenant.id,
    ]);
    await asActionsServer(made, (c) => c.query(`insert into channels (name) select 'x' || g from generate_series(1, 60) g`));
    expect(await count(made, 'channels')).toBe(62);
  });

  it('an unlimited plan takes rows past every paid limit', async () => {
    const made = await makeTenant(fx.db, 'bigco');
    await setPlan(made, 'enterprise');
    await asActionsServer(made, (c) => c.query(`insert into channels (name) select 'c' || g from generate_series(1, 51) g`));
    await asActionsServer(made, (c) => c.query(`insert into files (name, size_bytes) values ('huge', $1)`, [101 * GB]));
    expect(await counters(made)).toMatchObject({ channels_total: '51', storage_bytes: String(101 * GB) });
  });
});

describe('check_tenant_limits and the counters behind it', () => {
  it('reports each limit with its usage, max, remaining and flags', async () => {
    const made = await makeTenant(fx.db, 'report');
    await asActionsServer(made, async (c) => {
      await c.query(`insert into members (display_name) values ('two'), ('three')`);
      await c.query(`insert into channels (name) select 'c' || g from generate_series(1, 5) g`);
      await c.query(`insert into files (name, size_bytes) values ('f', 1000)`);
    });
    const { rows } = await fx.db.pool.query('select * from public.check_tenant_limits($1)', [made.tenant.id]);
    expect(rows).toEqual([
      { resource: 'users', usage: '3', max_value: '10', remaining: '7', overage: '0', at_limit: false, exceeded: false },
      { resource: 'channels', usage: '5', max_value: '5', remaining: '0', overage: '0', at_limit: true, exceeded: false },
      {
        resource: 'storage_bytes',
        usage: '1000',
        max_value: String(GB),
        remaining: String(GB - 1000),
        overage: '0',
        at_limit: false,
        exceeded: false,
      },
      { resource: 'api_calls_month', usage: '0', max_value: '1000', remaining: '1000', overage: '0', at_limit: false, exceeded: false },
    ]);
    // The documented spelling works too; unlimited reads -1 with no remaining.
    await setPlan(made, 'enterprise');
    const seeds = await fx.db.pool.query<{ check_tenant_limits: string }>('select public.check_tenant_limits($1)', [made.tenant.id]);
    expect(seeds.rows.map((r) => r.check_tenant_limits)).toEqual([
      '(users,3,-1,,0,f,f)',
      '(channels,5,-1,,0,f,f)',
      '(storage_bytes,1000,-1,,0,f,f)',
      '(api_calls_month,0,-1,,0,f,f)',
    ]);
  });

  it("as app, answers only for the request's own tenant", async () => {
    const a = await makeTenant(fx.db, 'own-a');
    const b = await makeTenant(fx.db, 'own-b');
    await asPersona(fx.db.pool, { kind: 'app', tenantId: a.tenant.id }, async (client) => {
      expect((await client.query('select * from public.check_tenant_limits($1)', [a.tenant.id])).rowCount).toBe(4);
      expect((await client.query('select * from public.check_tenant_limits($1)', [b.tenant.id])).rowCount).toBe(0);
      expect((await client.query('select * from public.tenant_counters')).rows.map((r) => r.tenant_id)).toEqual([a.tenant.id]);
    });
  });

  it('follows deletes and size changes, and a recount repairs what a TRUNCATE skipped', async () => {
    const made = await makeTenant(fx.db, 'counts');
    await asActionsServer(made, async (c) => {
      await c.query(`insert into members (display_name) values ('two')`);
      await c.query(`insert into channels (name) values ('a'), ('b')`);
      await c.query(`insert into files (name, size_bytes) values ('x', 10), ('y', 20), ('z', 30)`);
      await c.query(`delete from files where name = 'x'`);
      await c.query(`update files set size_bytes = 5 where name = 'y'`);
      await c.query(`delete from channels where name = 'b'`);
      await c.query(`delete from members where display_name = 'two'`);
    });
    expect(await counters(made)).toEqual({ users_total: '1', channels_total: '1', storage_bytes: '35', files_count: '2' });

    // TRUNCATE fires no row triggers (request roles may not truncate; an operator might).
    await fx.db.pool.query('truncate tenant_counts.files');
    expect((await counters(made))?.files_count).toBe('2');
    await fx.db.pool.query('select public.recount_tenant_counters($1, $2)', ['tenant_counts', made.tenant.id]);
    expect(await counters(made)).toEqual({ users_total: '1', channels_total: '1', storage_bytes: '0', files_count: '0' });
  });

  it('attaches triggers only to a schema the tenant owns', async () => {
    const made = await makeTenant(fx.db, 'owner-check');
    const other = await makeTenant(fx.db, 'owner-other');
    await expect(
      fx.db.pool.query('select public.attach_tenant_triggers($1, $2)', [other.tenant.schema_name, made.tenant.id]),
    ).rejects.toMatchObject({ code: 'SA409' });
    await expect(fx.db.pool.query('select public.attach_tenant_triggers($1, $2)', ['public', made.tenant.id])).rejects.toMatchObject({
      code: 'SA409',
    });
    const triggers = await fx.db.pool.query<{ tgname: string; rel: string }>(
      `select tgname, tgrelid::regclass::text as rel from pg_trigger
       where tgrelid::regclass::text like '"tenant_owner-check".%' and not tgisinternal
       order by 2, 1`,
    );
    expect(triggers.rows).toEqual([
      { tgname: '_500_limits', rel: '"tenant_owner-check".channels' },
      { tgname: '_800_usage', rel: '"tenant_owner-check".channels' },
      { tgname: '_500_limits', rel: '"tenant_owner-check".files' },
      { tgname: '_800_usage', rel: '"tenant_owner-check".files' },
      { tgname: '_500_limits', rel: '"tenant_owner-check".members' },
      { tgname: '_800_usage', rel: '"tenant_owner-check".members' },
      { tgname: '_800_usage', rel: '"tenant_owner-check".messages' },
    ]);
  });
});

describe('blocks of spare quota per backend', () => {
  /** Connections on distinct counter shards (pg_backend_pid() % 64), each kept for the whole test. */
  async function backends(n: number): Promise<pg.Client[]> {
    const kept = new Map<number, pg.Client>();
    const spare: pg.Client[] = [];
    while (kept.size < n) {
      const c = new pg.Client({ connectionString: fx.db.url });
      await c.connect();
      const pid = (await c.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      if (kept.has(pid % 64)) spare.push(c);
      else kept.set(pid % 64, c);
    }
    await Promise.all(spare.map((c) => c.end()));
    return [...kept.values()];
  }

  /** Opens a transaction on `c` as the tenant's role (what withTenantData does), runs `sql`, leaves it open. */
  async function beginAs(c: pg.Client, made: MadeTenant, sql: string): Promise<void> {
    await c.query('begin');
    await c.query(
      `set local role ${pg.escapeIdentifier(made.tenant.db_role!)}; set local search_path = ${pg.escapeIdentifier(made.tenant.schema_name!)}, public`,
    );
    await c.query(sql);
  }

  const overrideChannels = (made: MadeTenant, max: number) =>
    fx.db.pool.query(
      `update public.tenant_settings set limit_overrides = jsonb_build_object('max_channels', $2::int) where tenant_id = $1`,
      [made.tenant.id, max],
    );

  it('lets writers far from the limit insert without waiting for each other to commit', async () => {
    const made = await makeTenant(fx.db, 'blocks-free-flow');
    await overrideChannels(made, 1000);
    const [a, b] = await backends(2);
    try {
      // Each backend's first insert takes the tenant's lock and a block of spare.
      for (const [i, c] of [a!, b!].entries()) {
        await beginAs(c, made, `insert into channels (name) values ('first-${i}')`);
        await c.query('commit');
      }
      await beginAs(a!, made, `insert into channels (name) values ('a-open')`);
      // With one counter row, this insert would queue behind a's open transaction.
      await b!.query(`set lock_timeout = '5s'`);
      await beginAs(b!, made, `insert into channels (name) values ('b-while-a-open')`);
      await b!.query('commit');
      await a!.query('commit');
    } finally {
      await Promise.all([a!.end(), b!.end()]);
    }
    expect(await count(made, 'channels')).toBe(4);
    expect((await counters(made))?.channels_total).toBe('4');
  });

  it('stays exact at the limit while racing writers hold blocks: every one of them fills up to it, none past', async () => {
    const made = await makeTenant(fx.db, 'blocks-exact');
    await overrideChannels(made, 60);
    const writers = await backends(6);
    const admitted: number[] = [];
    try {
      await Promise.all(
        writers.map(async (c, w) => {
          admitted[w] = 0;
          for (let i = 0; ; i++) {
            try {
              await beginAs(c, made, `insert into channels (name) values ('w${w}-${i}')`);
              await c.query('commit');
              admitted[w]++;
            } catch (err) {
              await c.query('rollback');
              expect((err as { code?: string }).code).toBe('SA429');
              return;
            }
          }
        }),
      );
      // Whatever blocks are left, a writer that comes back finds the limit reached.
      await expect(beginAs(writers[0]!, made, `insert into channels (name) values ('one-more')`)).rejects.toMatchObject({ code: 'SA429' });
      await writers[0]!.query('rollback');
    } finally {
      await Promise.all(writers.map((c) => c.end()));
    }
    expect(admitted.reduce((x, y) => x + y, 0)).toBe(60);
    expect(await count(made, 'channels')).toBe(60);
    expect((await counters(made))?.channels_total).toBe('60');
  });

  it('ends the blocks granted under a limit when the limit is lowered', async () => {
    const made = await makeTenant(fx.db, 'blocks-lowered');
    await overrideChannels(made, 1000);
    const [a] = await backends(1);
    try {
      for (const name of ['one', 'two']) {
        await beginAs(a!, made, `insert into channels (name) values ('${name}')`);
        await a!.query('commit');
      }
      // a still holds a block granted under 1,000.
      await overrideChannels(made, 2);
      await expectQuota(
        beginAs(a!, made, `insert into channels (name) values ('three')`),
        'channels',
        /allows 2 channels and this tenant has 2/,
      );
      await a!.query('rollback');
    } finally {
      await a!.end();
    }
    expect(await count(made, 'channels')).toBe(2);
  });
});
