// DESIGN.md §11: pooled reads under RLS cost ≤ 1.1× the same query without RLS,
// on 1M rows over 1,000 tenants. The pooled placement tier is built by a later
// issue; until then this runs on a scratch table shaped like a pooled tenant
// table (tenant_id leading the key and the index) guarded by the project's own
// policy writer, public.enable_tenant_rls, so it measures exactly the policies
// every tenant-keyed table gets.
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { scopeStatements } from '../actions-server/src/db/tx.ts';
import { summarize } from './support/stats.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';

const shapeFor = (scale: Scale) => sized(scale, { tiny: { tenants: 20, perTenant: 500 }, default: { tenants: 1_000, perTenant: 1_000 } });

const QUERIES = {
  page: {
    label: 'latest 50 rows of one tenant',
    // The baseline names the tenant itself; under RLS the policy supplies that predicate.
    bare: 'select id, body, created_at from public.bench_pooled_messages where tenant_id = $1 order by created_at desc, id desc limit 50',
    rls: 'select id, body, created_at from public.bench_pooled_messages order by created_at desc, id desc limit 50',
  },
  count: {
    label: "count of one tenant's rows",
    bare: 'select count(*)::int as n from public.bench_pooled_messages where tenant_id = $1',
    rls: 'select count(*)::int as n from public.bench_pooled_messages',
  },
} as const;
type QueryName = keyof typeof QUERIES;

const fingerprint = (rows: unknown[]): [number, string] => [
  rows.length,
  createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16),
];

export const pooledRls: Benchmark = {
  name: 'pooled-rls',
  title: 'pooled reads: the same query without RLS vs as `app` under enable_tenant_rls policies',
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
      await db.pool.query(`
        create table public.bench_pooled_messages (
          tenant_id uuid not null,
          id bigint not null,
          body text not null,
          created_at timestamptz not null,
          primary key (tenant_id, id)
        )`);
      // Rows of a tenant are spread over the table (as concurrent tenants write them), not clustered.
      await db.pool.query(
        `with t as (select row_number() over () - 1 as n, gen_random_uuid() as id from generate_series(1, $2::int))
         insert into public.bench_pooled_messages (tenant_id, id, body, created_at)
         select t.id, s, 'message ' || s, now() - make_interval(secs => s)
         from generate_series(1, $1::int) s join t on t.n = s % $2::int`,
        [tenants * perTenant, tenants],
      );
      await db.pool.query('create index on public.bench_pooled_messages (tenant_id, created_at)');
      await db.pool.query(`select public.enable_tenant_rls('public.bench_pooled_messages')`);
      await db.pool.query('grant select on public.bench_pooled_messages to app');
      await db.pool.query('analyze public.bench_pooled_messages');
      const ids = (
        await db.pool.query<{ tenant_id: string }>('select distinct tenant_id from public.bench_pooled_messages order by 1')
      ).rows.map((r) => r.tenant_id);
      ctx.check('tenants in the table', tenants, ids.length);

      const bare = await db.pool.connect();
      const scoped = await db.pool.connect();
      try {
        const underRls = async <R extends pg.QueryResultRow>(tenantId: string, sql: string): Promise<{ ms: number; rows: R[] }> => {
          await scoped.query('begin');
          try {
            await scoped.query(scopeStatements(scoped, { tenantId, dbRole: 'app' }));
            const t0 = performance.now();
            const { rows } = await scoped.query<R>(sql);
            return { ms: performance.now() - t0, rows };
          } finally {
            await scoped.query('commit');
          }
        };
        const withoutRls = async <R extends pg.QueryResultRow>(tenantId: string, sql: string): Promise<{ ms: number; rows: R[] }> => {
          await bare.query('begin');
          try {
            const t0 = performance.now();
            const { rows } = await bare.query<R>(sql, [tenantId]);
            return { ms: performance.now() - t0, rows };
          } finally {
            await bare.query('commit');
          }
        };

        // Same answers: RLS scopes to exactly the tenant, and the policy is an index condition.
        const probe = ids[Math.floor(ids.length / 2)]!;
        for (const q of Object.keys(QUERIES) as QueryName[]) {
          const a = await withoutRls(probe, QUERIES[q].bare);
          const b = await underRls(probe, QUERIES[q].rls);
          ctx.check(`${q}: under RLS the same rows (count, digest) as the explicit tenant filter`, fingerprint(a.rows), fingerprint(b.rows));
        }
        const { rows: plan } = await underRls<{ 'QUERY PLAN': string }>(probe, `explain ${QUERIES.count.rls}`);
        const planText = plan.map((r) => r['QUERY PLAN']).join('\n');
        ctx.check('under RLS the tenant predicate is an index condition (not a filter per row)', true, /Index Cond: \(tenant_id = /.test(planText));

        const out: Record<string, { baseline: number; project: number; note: string }> = {};
        for (const q of Object.keys(QUERIES) as QueryName[]) {
          ctx.progress(`${q}: ${iterations} queries each side, alternating`);
          const base: number[] = [];
          const rls: number[] = [];
          for (let i = 0; i < iterations; i++) {
            const tenant = ids[(i * 7919) % ids.length]!;
            base.push((await withoutRls(tenant, QUERIES[q].bare)).ms);
            rls.push((await underRls(tenant, QUERIES[q].rls)).ms);
          }
          const b = summarize(base);
          const p = summarize(rls);
          out[q] = {
            baseline: b.p50,
            project: p.p50,
            note: `p99 ${b.p99.toFixed(3)} vs ${p.p99.toFixed(3)} ms; scratch table with enable_tenant_rls policies (the pooled tier itself comes with a later issue)`,
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
