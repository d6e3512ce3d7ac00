// Online moves between placement tiers: a tenant holding
// 10,000 messages moves pooled -> schema -> database -> pooled while a writer
// keeps inserting and a reader keeps reading, through withTenantData with the
// placement the resolver gives (as every request does). Afterwards nothing is
// lost or duplicated, the writer saw nothing but 503 + Retry-After (during
// the freezes), the reader never failed, and usage, limits and audit agree.
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { toAppError } from '../../actions-server/src/core/errors.ts';
import { requestMove } from '../../actions-server/src/tenants/move/request.ts';
import { runMove } from '../../actions-server/src/tenants/move/run.ts';
import { type MoveDeps } from '../../actions-server/src/tenants/move/deps.ts';
import type { MoveStep } from '../../actions-server/src/tenants/move/records.ts';
import type { Client } from '../../actions-server/src/db/tx.ts';
import type { Isolation } from '../../actions-server/src/tenants/records.ts';
import { until } from '../support/wait.ts';

const fx = useTestServer();

const SEEDED = 10_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const moveDeps = (): MoveDeps => ({
  env: fx.db.env(),
  pool: fx.db.pool,
  log: createLogger('silent'),
  databases: fx.srv.ctx.databases,
  drainMs: 500,
});

/** Work on the tenant's data wherever the resolver (LISTEN/NOTIFY-invalidated cache) says it is. */
async function asTenant<T>(made: MadeTenant, fn: (c: Client) => Promise<T>): Promise<T> {
  const tenant = await fx.srv.ctx.resolver.byId(made.tenant.id);
  if (!tenant) throw new Error('tenant vanished');
  return withTenantData({ pool: fx.db.pool, databases: fx.srv.ctx.databases }, tenant, made.ownerId, fn);
}

describe('moving a tenant between tiers while it serves', () => {
  let made: MadeTenant;
  let channelId: string;

  beforeAll(async () => {
    made = await makeTenant(fx.db, 'mover', { isolation: 'pooled', plan: 'pro' });
    channelId = await asTenant(made, async (c) => {
      const ch = (await c.query<{ id: string }>(`insert into channels (name) values ('general') returning id`)).rows[0]!.id;
      await c.query(`insert into messages (channel_id, body) select $1, 'seed ' || g from generate_series(1, ${SEEDED}) g`, [ch]);
      return ch;
    });
  });

  it(`moves ${SEEDED.toLocaleString('en')} messages pooled -> schema -> database -> pooled; nothing lost, duplicated or refused but 503`, async () => {
    const acked = new Map<string, string>();
    const otherErrors: string[] = [];
    let refused = 0;
    let retryAfterMissing = 0;
    let reads = 0;
    let lowestRead = Number.POSITIVE_INFINITY;
    const readErrors: string[] = [];
    let stop = false;

    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const body = `live ${i}`;
        try {
          const id = await asTenant(
            made,
            async (c) =>
              (await c.query<{ id: string }>('insert into messages (channel_id, body) values ($1, $2) returning id', [channelId, body]))
                .rows[0]!.id,
          );
          acked.set(id, body);
        } catch (err) {
          const e = toAppError(err);
          if (e.code === 'SERVICE_UNAVAILABLE' && e.status === 503) {
            refused++;
            if (e.headers?.['Retry-After'] !== '1') retryAfterMissing++;
            await sleep(20);
          } else {
            otherErrors.push(`${e.code}: ${(err as Error).message}`);
          }
        }
      }
    })();
    const reader = (async () => {
      while (!stop) {
        try {
          const n = await asTenant(made, async (c) => (await c.query<{ n: number }>('select count(*)::int as n from messages')).rows[0]!.n);
          reads++;
          lowestRead = Math.min(lowestRead, n);
        } catch (err) {
          readErrors.push((err as Error).message);
        }
      }
    })();

    const verifications: Record<string, unknown>[] = [];
    try {
      for (const to of ['schema', 'database', 'pooled'] as Isolation[]) {
        const move = await requestMove(moveDeps(), made.tenant.id, { to }, { kind: 'cli' });
        const hold = async (step: MoveStep) => {
          if (step === 'syncing') {
            // The tenant keeps taking writes while it is copied: they reach the target through the recorded changes.
            const from = acked.size;
            await until('writes during the copy', () => acked.size >= from + 25);
          }
          if (step === 'switching') {
            // Frozen: the writer is refused (503, Retry-After), the reader is served.
            const [r, w] = [refused, reads];
            await until('a refused write and a read during the freeze', () => refused > r && reads > w + 1);
          }
        };
        const done = await runMove(moveDeps(), move.id, { actor: { kind: 'cli' }, onStep: hold });
        expect(done).toMatchObject({ state: 'done', from: expect.any(String), to, error: null });
        verifications.push(done.verification as Record<string, unknown>);
        expect((await fx.srv.ctx.resolver.byId(made.tenant.id))?.isolation).toBe(to);
        // Writes land in the new placement.
        const from = acked.size;
        await until('writes after the switch', () => acked.size >= from + 5);
      }
    } finally {
      stop = true;
      await Promise.all([writer, reader]);
    }

    expect(otherErrors).toEqual([]);
    expect(retryAfterMissing).toBe(0);
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(readErrors).toEqual([]);
    expect(reads).toBeGreaterThan(3);
    // Never an empty or half-built copy.
    expect(lowestRead).toBeGreaterThanOrEqual(SEEDED);

    // Every move compared the copies under the freeze: same rows, same checksums, table by table.
    for (const v of verifications) {
      expect(Object.keys(v).sort()).toEqual(['channels', 'files', 'members', 'messages']);
      for (const sums of Object.values(v) as { source: unknown; target: unknown }[]) expect(sums.source).toEqual(sums.target);
    }
    expect((verifications[0] as { messages: { source: { rows: string } } }).messages.source.rows).not.toBe('0');

    // Exactly the seeded rows plus every acknowledged insert, once each, in the pooled tables again.
    const { rows } = await fx.db.pool.query<{ id: string; body: string }>('select id, body from pooled.messages where tenant_id = $1', [
      made.tenant.id,
    ]);
    expect(rows.length).toBe(SEEDED + acked.size);
    const live = rows.filter((r) => r.body.startsWith('live '));
    expect(new Map(live.map((r) => [r.id, r.body]))).toEqual(acked);
    const seeds = new Set(rows.filter((r) => r.body.startsWith('seed ')).map((r) => r.body));
    expect(seeds.size).toBe(SEEDED);

    const tenant = (
      await fx.db.pool.query('select isolation, status, schema_name, db_role, database_name from public.tenants where id = $1', [
        made.tenant.id,
      ])
    ).rows[0];
    expect(tenant).toEqual({ isolation: 'pooled', status: 'active', schema_name: null, db_role: null, database_name: null });

    // Usage metered once per message and member, whatever tier wrote it; the copies metered nothing.
    const usage = (
      await fx.db.pool.query(
        `select users_total::int, channels_total::int, messages_total::int from public.tenant_usage
          where tenant_id = $1 and period = to_char(now() at time zone 'UTC', 'YYYY-MM')`,
        [made.tenant.id],
      )
    ).rows[0];
    expect(usage).toEqual({ users_total: 1, channels_total: 1, messages_total: SEEDED + acked.size });

    // Nothing of the old placements is left: schema, database, role, guards, recorded changes.
    const leftovers = (
      await fx.db.pool.query(
        `select (select count(*)::int from pg_namespace where nspname = 'tenant_mover') as schemas,
                (select count(*)::int from pg_database where datname = $2) as databases,
                (select count(*)::int from pg_roles where rolname = $2) as roles,
                (select count(*)::int from public.tenant_write_guards where tenant_id = $1) as guards,
                (select count(*)::int from public.tenant_move_changes where tenant_id = $1) as changes`,
        [made.tenant.id, `${fx.db.rolePrefix}tenant_mover`],
      )
    ).rows[0];
    expect(leftovers).toEqual({ schemas: 0, databases: 0, roles: 0, guards: 0, changes: 0 });

    // Audited: each request, each switch (old and new placement), the freezes.
    const audit = (
      await fx.db.pool.query<{ action: string; old_values: Record<string, unknown> | null; new_values: Record<string, unknown> | null }>(
        `select action, old_values, new_values from public.tenant_audit_logs
          where tenant_id = $1 and action in ('tenant_move.requested', 'tenant.moved') order by seq`,
        [made.tenant.id],
      )
    ).rows;
    expect(audit.filter((a) => a.action === 'tenant_move.requested')).toHaveLength(3);
    expect(audit.filter((a) => a.action === 'tenant.moved').map((a) => [a.old_values?.['isolation'], a.new_values?.['isolation']])).toEqual(
      [
        ['pooled', 'schema'],
        ['schema', 'database'],
        ['database', 'pooled'],
      ],
    );
    const { rows: chain } = await fx.db.pool.query('select ok, reason from public.verify_audit_chain($1)', [made.tenant.id]);
    expect(chain).toEqual([{ ok: true, reason: null }]);
  });
});
