// bench/README.md: pooled reads under RLS cost ≤ 1.1× the same query without RLS,
// on 1M rows over 1,000 tenants: the real pooled.messages table with its own
// policies and indexes, read as the owner (no RLS) and as `app`.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { scopeStatements } from '../actions-server/src/db/tx.ts';
import { summarize } from './support/stats.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';

const shapeFor = (scale: Scale) => sized(scale, { tiny: { tenants: 20, perTenant: 500 }, default: { tenants: 1_000, perTenant: 1_000 } });

const QUERIES = {
  page: {
    label: "latest 50 messages of a tenant's channel",
    // The baseline names the tenant itself; under RLS the policy supplies that predicate.
    bare: 'select id, body, created_at from pooled.messages where tenant_id = $1 and channel_id = $2 order by created_at desc limit 50',
    rls: 'select id, body, created_at from pooled.messages where channel_id = $1 order by created_at desc limit 50',
    byChannel: true,
  },
  count: {
    label: "count of one tenant's messages",
    bare: 'select count(*)::int as n from pooled.messages where tenant_id = $1',
    rls: 'select count(*)::int as n from pooled.messages',
    byChannel: false,
  },
} as const;
type QueryName = keyof typeof QUERIES;

const fingerprint = (rows: unknown[]): [number, string] => [
  rows.length,
  createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16),
];

export const pooledRls: Benchmark = {
  name: 'pooled-rls',
  title: 'pooled reads: the same query on pooled.messages as the owner (no RLS) vs as `app` under its policies',
  rows(scale) {
    const { tenants, perTenant } = shapeFor(scale);
    const size = `${(tenants * perTenant).toLocaleString('en-US')} rows, ${tenants.toLocaleString('en-US')} tenants`;
    return (Object.keys(QUERIES) as QueryName[]).map((q) => ({
      id: q,
      metric: `${QUERIES[q].label} (${size}), p50: owner without RLS vs app under RLS`,
      unit: 'ms',
      target: { kind: 'ratio', op: '<=', limit: 1.1 },
    }));
  },

  async run(ctx) {
    const { tenants, perTenant } = shapeFor(ctx.scale);
    const iterations = sized(ctx.scale, { tiny: 100, default: 4_000 });
    const db = await ctx.cluster.createDb('pooled_rls');
    try {
      ctx.progress(`loading ${(tenants * perTenant).toLocaleString('en-US')} rows`);
      // Registry rows and one channel per tenant, then the messages; triggers (usage
      // counters) are skipped for the bulk fill only: reads are what is measured.
      await db.pool.query(
        `insert into public.tenants (name, slug, isolation)
         select 'Bench ' || n, 'bench-' || n, 'pooled' from generate_series(1, $1::int) n`,
        [tenants],
      );
      await db.pool.query(`insert into pooled.channels (tenant_id, name) select id, 'general' from public.tenants`);
      const fill = await db.pool.connect();
      try {
        await fill.query(`set session_replication_role = replica`);
        // Rows of a tenant are spread over the table (as concurrent tenants write them), not clustered.
        await fill.query(
          `with c as (select row_number() over () - 1 as n, tenant_id, id from pooled.channels)
           insert into pooled.messages (tenant_id, channel_id, body, created_at)
           select c.tenant_id, c.id, 'message ' || s, now() - make_interval(secs => s)
           from generate_series(1, $1::int) s join c on c.n = s % $2::int`,
          [tenants * perTenant, tenants],
        );
        await fill.query(`set session_replication_role = origin`);
      } finally {
        fill.release();
      }
      await db.pool.query('analyze pooled.messages');
      const channels = new Map(
        (await db.pool.query<{ tenant_id: string; id: string }>('select tenant_id, id from pooled.channels')).rows.map((r) => [
          r.tenant_id,
          r.id,
        ]),
      );
      const ids = [...channels.keys()].sort();
      ctx.check('tenants in the table', tenants, ids.length);

      const bare = await db.pool.connect();
      const scoped = await db.pool.connect();
      try {
        // The baseline names the tenant ($1); under RLS the policy does, so only the channel is passed.
        const underRls = async <R extends pg.QueryResultRow>(tenantId: string, q: QueryName): Promise<{ ms: number; rows: R[] }> => {
          await scoped.query('begin');
          try {
            await scoped.query(scopeStatements(scoped, { tenantId, dbRole: 'app' }));
            const args = QUERIES[q].byChannel ? [channels.get(tenantId)] : [];
            const t0 = performance.now();
            const { rows } = await scoped.query<R>(QUERIES[q].rls, args);
            return { ms: performance.now() - t0, rows };
          } finally {
            await scoped.query('commit');
          }
        };
        const withoutRls = async <R extends pg.QueryResultRow>(tenantId: string, q: QueryName): Promise<{ ms: number; rows: R[] }> => {
          await bare.query('begin');
          try {
            const args = QUERIES[q].byChannel ? [tenantId, channels.get(tenantId)] : [tenantId];
            const t0 = performance.now();
            const { rows } = await bare.query<R>(QUERIES[q].bare, args);
            return { ms: performance.now() - t0, rows };
          } finally {
            await bare.query('commit');
          }
        };

        // Same answers: RLS scopes to exactly the tenant, and the policy is an index condition.
        const probe = ids[Math.floor(ids.length / 2)]!;
        for (const q of Object.keys(QUERIES) as QueryName[]) {
          const a = await withoutRls(probe, q);
          const b = await underRls(probe, q);
          ctx.check(
            `${q}: under RLS the same rows (count, digest) as the explicit tenant filter`,
            fingerprint(a.rows),
            fingerprint(b.rows),
          );
        }
        await scoped.query('begin');
        await scoped.query(scopeStatements(scoped, { tenantId: probe, dbRole: 'app' }));
        const { rows: plan } = await scoped.query<{ 'QUERY PLAN': string }>(`explain ${QUERIES.count.rls}`);
        await scoped.query('commit');
        const planText = plan.map((r) => r['QUERY PLAN']).join('\n');
        ctx.check(
          'under RLS the tenant predicate is an index condition (not a filter per row)',
          true,
          /Index Cond: \(tenant_id = /.test(planText),
        );

        const out: Record<string, { baseline: number; project: number; note: string }> = {};
        for (const q of Object.keys(QUERIES) as QueryName[]) {
          ctx.progress(`${q}: ${iterations} queries each side, alternating`);
          const base: number[] = [];
          const rls: number[] = [];
          for (let i = 0; i < iterations; i++) {
            const tenant = ids[(i * 7919) % ids.length]!;
            base.push((await withoutRls(tenant, q)).ms);
            rls.push((await underRls(tenant, q)).ms);
          }
          const b = summarize(base);
          const p = summarize(rls);
          out[q] = {
            baseline: b.p50,
            project: p.p50,
            note: `p99 ${b.p99.toFixed(3)} vs ${p.p99.toFixed(3)} ms; pooled.messages with its own policies`,
          };
        }
        return out;
      } finally {
        bare.release();
        scoped.release();
      }
    } finally {
      await db.close();
    }
  },
};
