// bench/README.md: plan limits are exact under 20 racing inserts (a free tenant
// holding 4 channels ends with exactly 5) and cost ≤ 1.5× bare inserts. The
// limit is the _500_limits trigger, which reads the counter kept by _800_usage;
// the baseline tenant has both dropped from its channels table.
import type { DatabaseError } from 'pg';
import type { Client } from '../actions-server/src/db/tx.ts';
import { withTenantData } from '../actions-server/src/tenants/data.ts';
import { ident, type BenchDb } from './support/cluster.ts';
import { overrideLimits, signUp } from './support/tenants.ts';
import { sized, type Benchmark, type Measurement, type Scale } from './support/types.ts';
import { warmPool, writeRows } from './support/writers.ts';
import { tenantPlacementOf, type TenantPlacement } from '../actions-server/src/tenants/placement.ts';

const RACERS = 20;
const WRITERS = 8;
const insertsFor = (scale: Scale): number => sized(scale, { tiny: 200, default: 3_000 });

const insertChannel = (client: Client, name: string) => client.query('insert into channels (name) values ($1)', [name]);

async function channelCount(db: BenchDb, tenant: TenantPlacement): Promise<number> {
  return withTenantData(db.pool, tenant, undefined, async (c) =>
    Number((await c.query<{ n: string }>('select count(*)::text as n from channels')).rows[0]!.n),
  );
}

export const limits: Benchmark = {
  name: 'limits',
  title: 'plan limits: 20 racing inserts stay exact; channel inserts without vs with the limit triggers',
  rows: (scale) => [
    {
      id: 'race',
      metric: `${RACERS} racing channel inserts into a free tenant holding 4 (limit 5): channels afterwards`,
      unit: 'channels',
      target: { kind: 'absolute', op: '=', limit: 5, unit: 'channels' },
    },
    {
      id: 'time-8',
      metric: `${insertsFor(scale).toLocaleString('en-US')} channel inserts, ${WRITERS} writers, one tenant: without vs with the limit triggers`,
      unit: 'ms',
      target: { kind: 'ratio', op: '<=', limit: 1.5 },
    },
    {
      id: 'time-1',
      metric: `the same with 1 writer`,
      unit: 'ms',
      target: { kind: 'info', text: 'info' },
    },
  ],

  async run(ctx) {
    const races = sized(ctx.scale, { tiny: 1, default: 5 });
    const inserts = insertsFor(ctx.scale);
    const rounds = sized(ctx.scale, { tiny: 1, default: 3 });
    const db = await ctx.cluster.createDb('limits');
    const racers = await warmPool(db, RACERS);
    try {
      const finals: number[] = [];
      const outcomes: string[] = [];
      for (let r = 0; r < races; r++) {
        ctx.progress(`race ${r + 1}/${races}`);
        const tenant = tenantPlacementOf((await signUp(db, `race-${r}`)).tenant);
        for (let i = 0; i < 4; i++) await withTenantData(db.pool, tenant, undefined, (c) => insertChannel(c, `existing-${i}`));
        const settled = await Promise.allSettled(
          Array.from({ length: RACERS }, (_, i) => withTenantData(racers, tenant, undefined, (c) => insertChannel(c, `racer-${i}`))),
        );
        const ok = settled.filter((s) => s.status === 'fulfilled').length;
        const refused = settled.filter((s) => s.status === 'rejected' && (s.reason as DatabaseError).code === 'SA429').length;
        outcomes.push(`${ok} admitted, ${refused} refused with SA429, ${RACERS - ok - refused} other`);
        finals.push(await channelCount(db, tenant));
        const counter = await db.pool.query<{ n: string }>(
          'select channels_total::text as n from public.tenant_counters where tenant_id = $1',
          [tenant.id],
        );
        ctx.check(
          `race ${r + 1}: 1 admitted, ${RACERS - 1} refused with SA429, 5 channels, counter 5`,
          [1, RACERS - 1, 5, 5],
          [ok, refused, finals.at(-1), Number(counter.rows[0]?.n ?? -1)],
        );
      }

      // Throughput: a free tenant whose channel limit an operator raised (the
      // trigger still checks and serialises), against one without the triggers.
      const limited = (await signUp(db, 'limits-on')).tenant;
      await overrideLimits(db, limited.id, { max_channels: 1_000_000_000 });
      const bare = (await signUp(db, 'limits-off')).tenant;
      for (const trigger of ['_500_limits', '_800_usage'])
        await db.pool.query(`drop trigger ${trigger} on ${ident(bare.schema_name!)}.channels`);
      const writers = await warmPool(db, WRITERS);
      try {
        const out: Record<string, Measurement> = {};
        for (const n of [WRITERS, 1]) {
          const run = (t: TenantPlacement, label: string) =>
            writeRows({ pool: writers, tenant: t, writers: n, count: inserts, insert: (c, i) => insertChannel(c, `${label}-${n}-${i}`) });
          ctx.progress(`${inserts} inserts per side with ${n} writer(s)`);
          await run(tenantPlacementOf(bare), 'warm'); // warm-up, and the same number of rows on both sides afterwards
          await run(tenantPlacementOf(limited), 'warm');
          // Each side's best of alternating rounds: the one least disturbed by other work on the machine.
          let baseline = Infinity;
          let project = Infinity;
          for (let r = 0; r < rounds; r++) {
            baseline = Math.min(baseline, await run(tenantPlacementOf(bare), `bench${r}`));
            project = Math.min(project, await run(tenantPlacementOf(limited), `bench${r}`));
          }
          out[`time-${n}`] = { baseline, project, note: `best of ${rounds} alternating round(s)` };
        }
        const expected = 2 * (1 + rounds) * inserts;
        ctx.check(
          'every throughput insert landed on both sides',
          [expected, expected],
          [await channelCount(db, tenantPlacementOf(bare)), await channelCount(db, tenantPlacementOf(limited))],
        );
        const counter = await db.pool.query<{ n: string }>(
          'select channels_total::text as n from public.tenant_counters where tenant_id = $1',
          [limited.id],
        );
        ctx.check('the limited tenant counted every channel', expected, Number(counter.rows[0]?.n ?? -1));
        out['race'] = { baseline: null, project: Math.max(...finals), note: outcomes.join('; ') };
        return out;
      } finally {
        await writers.end();
      }
    } finally {
      await racers.end();
      await db.close();
    }
  },
};
