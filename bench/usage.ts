// bench/README.md: usage metering costs ≤ 1.2× the time of bare inserts, 8 writers
// on one tenant, and its totals are exact. Two tenants made by the sign-up
// service, identical but for one thing: the baseline's messages table has its
// _800_usage trigger dropped. Rounds alternate between them.
import type { Client } from '../actions-server/src/db/tx.ts';
import { withTenantData } from '../actions-server/src/tenants/data.ts';
import { ident, type BenchDb } from './support/cluster.ts';
import { signUp } from './support/tenants.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';
import { warmPool, writeRows } from './support/writers.ts';
import { tenantPlacementOf, type TenantPlacement } from '../actions-server/src/tenants/placement.ts';

const WRITERS = 8;
const messagesFor = (scale: Scale): number => sized(scale, { tiny: 400, default: 10_000 });

interface Writable {
  placement: TenantPlacement;
  channelId: string;
  memberId: string;
}

/** A tenant with one channel, written by its owner's member row. */
async function prepare(db: BenchDb, slug: string): Promise<Writable> {
  const { tenant, ownerId } = await signUp(db, slug);
  const placement = tenantPlacementOf(tenant);
  return withTenantData(db.pool, placement, ownerId, async (client) => {
    const member = (await client.query<{ id: string }>('select id from members where identity_id = $1', [ownerId])).rows[0]!.id;
    const channel = (
      await client.query<{ id: string }>(`insert into channels (name, created_by) values ('general', $1) returning id`, [member])
    ).rows[0]!.id;
    return { placement, channelId: channel, memberId: member };
  });
}

const insertMessage = (t: Writable) => (client: Client, i: number) =>
  client.query('insert into messages (channel_id, member_id, body) values ($1, $2, $3)', [t.channelId, t.memberId, `message ${i}`]);

export const usage: Benchmark = {
  name: 'usage',
  title: 'usage metering: inserts without vs with the _800_usage trigger, 8 writers on one tenant',
  rows: (scale) => [
    {
      id: 'time',
      metric: `${messagesFor(scale).toLocaleString('en-US')} messages, ${WRITERS} writers, one tenant: without vs with the usage trigger`,
      unit: 'ms',
      target: { kind: 'ratio', op: '<=', limit: 1.2 },
    },
  ],

  async run(ctx) {
    const count = messagesFor(ctx.scale);
    const rounds = sized(ctx.scale, { tiny: 1, default: 4 });
    const warm = Math.min(200, count);
    const db = await ctx.cluster.createDb('usage');
    const pool = await warmPool(db, WRITERS);
    try {
      const bare = await prepare(db, 'usage-bare');
      const metered = await prepare(db, 'usage-metered');
      await db.pool.query(`drop trigger _800_usage on ${ident(bare.placement.schema_name!)}.messages`);
      const write = (t: Writable, n: number) =>
        writeRows({ pool, tenant: t.placement, writers: WRITERS, count: n, insert: insertMessage(t) });

      // Warm-up of both (plans, trigger functions, shard rows); its rows count in the totals.
      await write(bare, warm);
      await write(metered, warm);
      // Each side's best round: the one least disturbed by other work on the machine.
      let bareMs = Infinity;
      let meteredMs = Infinity;
      for (let r = 0; r < rounds; r++) {
        ctx.progress(`round ${r + 1}/${rounds}: ${count} messages each side`);
        bareMs = Math.min(bareMs, await write(bare, count));
        meteredMs = Math.min(meteredMs, await write(metered, count));
      }

      const inserted = warm + rounds * count;
      const totals = async (t: Writable): Promise<[number, number]> => {
        const rows = await withTenantData(db.pool, t.placement, undefined, async (c) =>
          Number((await c.query<{ n: string }>('select count(*)::text as n from messages')).rows[0]!.n),
        );
        const { rows: usageRows } = await db.pool.query<{ n: string }>(
          `select messages_total::text as n from public.tenant_usage
           where tenant_id = $1 and period = to_char(now() at time zone 'UTC', 'YYYY-MM')`,
          [t.placement.id],
        );
        return [rows, Number(usageRows[0]?.n ?? 0)];
      };
      ctx.check('metered tenant: rows and tenant_usage.messages_total both exact', [inserted, inserted], await totals(metered));
      ctx.check('baseline tenant: every row inserted, none metered (its trigger really was off)', [inserted, 0], await totals(bare));
      return {
        time: { baseline: bareMs, project: meteredMs, note: `best of ${rounds} alternating round(s), one transaction per message` },
      };
    } finally {
      await pool.end();
      await db.close();
    }
  },
};
