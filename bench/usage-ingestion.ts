// Usage ingestion budget: ≥ 5,000 usage events/s through POST /api/v1/usage/track
// in batches of 1,000, with exact totals. The project side is the real server
// (authentication, membership check, idempotency, caps under a row lock,
// totals); the baseline inserts the same batches straight into a bare table
// with an idempotency key (one statement per batch, no HTTP). One batch in five
// is sent twice, racing the first, and must count once.
import { request } from '../tests/support/http.ts';
import { BENCH_BASE_DOMAIN } from './support/cluster.ts';
import { startProjectServer } from './support/servers.ts';
import { signUp, type BenchTenant } from './support/tenants.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';

const CONCURRENCY = 4;
const shapeFor = (scale: Scale) =>
  sized(scale, { tiny: { tenants: 1, batches: 4, size: 100 }, default: { tenants: 2, batches: 30, size: 1_000 } });

interface Batch {
  tenant: number;
  events: { meter_id: string; event_value: number; idempotency_key: string; user_id: string }[];
}

async function runAll<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

export const usageIngestion: Benchmark = {
  name: 'usage-ingestion',
  title: 'usage ingestion: bare batched insert vs POST /api/v1/usage/track (batches, idempotency, caps, totals)',
  rows(scale) {
    const { tenants, batches, size } = shapeFor(scale);
    return [
      {
        id: 'events-s',
        metric: `${(tenants * batches * size).toLocaleString('en-US')} events in batches of ${size}, ${CONCURRENCY} concurrent, 20% of batches sent twice: events/s`,
        unit: 'events/s',
        target: { kind: 'absolute', op: '>=', limit: 5_000, unit: 'events/s' },
      },
    ];
  },

  async run(ctx) {
    const { tenants: tenantCount, batches: perTenant, size } = shapeFor(ctx.scale);
    const db = await ctx.cluster.createDb('usage_ingestion');
    const project = await startProjectServer(db, { RATE_LIMIT_ENABLED: 'false' });
    try {
      const tenants: BenchTenant[] = [];
      for (let i = 0; i < tenantCount; i++) tenants.push(await signUp(db, `ingest-${i}`, { plan: 'enterprise' }));
      const tokens = tenants.map((t) => project.ctx.tokens.sign({ userId: t.ownerId, tenantId: t.tenant.id, role: 'owner' }).token);
      const plan: Batch[] = [];
      for (let b = 0; b < perTenant; b++) {
        for (let t = 0; t < tenantCount; t++) {
          plan.push({
            tenant: t,
            events: Array.from({ length: size }, (_, i) => ({
              meter_id: 'api-calls',
              event_value: 1 + (i % 5),
              idempotency_key: `b${b}-e${i}`,
              user_id: `u${i % 50}`,
            })),
          });
        }
      }
      // One batch in five again, soon after the first.
      const sequence: Batch[] = [];
      plan.forEach((batch, i) => {
        sequence.push(batch);
        if (i % 5 === 2) sequence.splice(Math.max(0, sequence.length - 2), 0, batch);
      });
      const distinct = plan.length * size;
      const perTenantSum = perTenant * Array.from({ length: size }, (_, i) => 1 + (i % 5)).reduce((a, b) => a + b, 0);

      await db.pool.query(
        `create table public.bench_bare_usage (tenant_id uuid not null, key text not null, value numeric not null, properties jsonb, primary key (tenant_id, key))`,
      );
      ctx.progress(`baseline: ${sequence.length} batches`);
      const baseStart = performance.now();
      await runAll(sequence, CONCURRENCY, async (b) => {
        await db.pool.query(
          `insert into public.bench_bare_usage (tenant_id, key, value, properties)
           select $1, k, v, '{}'::jsonb from unnest($2::text[], $3::numeric[]) as e (k, v) on conflict do nothing`,
          [tenants[b.tenant]!.tenant.id, b.events.map((e) => e.idempotency_key), b.events.map((e) => e.event_value)],
        );
      });
      const baseMs = performance.now() - baseStart;

      ctx.progress(`project: ${sequence.length} batches`);
      const statuses: Record<string, number> = {};
      const start = performance.now();
      await runAll(sequence, CONCURRENCY, async (b) => {
        const res = await request(project.url, '/api/v1/usage/track', {
          host: `${tenants[b.tenant]!.tenant.slug}.${BENCH_BASE_DOMAIN}`,
          token: tokens[b.tenant],
          body: { events: b.events },
        });
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      });
      const ms = performance.now() - start;

      ctx.check('every batch answered 200/201', sequence.length, (statuses['200'] ?? 0) + (statuses['201'] ?? 0));
      const stored = await db.pool.query<{ n: number }>(`select count(*)::int as n from public.usage_events`);
      ctx.check('usage_events: each distinct event stored once', distinct, stored.rows[0]!.n);
      const totals = await db.pool.query<{ usage: string }>(
        `select usage::text from public.usage_meter_totals where meter_id = 'api-calls' order by tenant_id`,
      );
      ctx.check(
        'every tenant total exact',
        tenants.map(() => String(perTenantSum)),
        totals.rows.map((r) => r.usage),
      );
      return {
        'events-s': {
          baseline: (distinct / baseMs) * 1000,
          project: (distinct / ms) * 1000,
          note: `${distinct} distinct events over ${tenantCount} tenants, ${sequence.length - plan.length} batches sent twice`,
        },
      };
    } finally {
      await project.close();
      await db.close();
    }
  },
};
