// bench/README.md: a template migration over 5,000 schemas costs ≤ 2× a raw loop
// of the same DDL. The project side is migrateTenantSchemas (what `npm run
// tenants:migrate` runs: batches of tenants, a savepoint each, the versions and
// one audit entry per batch, re-securing every schema); the baseline runs the
// same DDL over the same schemas, one transaction each, at the same concurrency.
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createPool } from '../actions-server/src/db/database.ts';
import { withTransaction } from '../actions-server/src/db/tx.ts';
import { latestVersion, loadTemplate, TEMPLATE_DIR } from '../actions-server/src/tenants/template.ts';
import { migrateTenantSchemas } from '../actions-server/src/tenants/template-migrate.ts';
import type { BenchCluster, BenchDb } from './support/cluster.ts';
import { fillSchemaTenants, SCHEMA_TENANTS_KEY } from './support/fill.ts';
import { forEachLimit, timed } from './support/stats.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';

const schemasFor = (scale: Scale): number => sized(scale, { tiny: 10, default: 5_000 });

// A typical template change: a new column, a new table with a foreign key and an index.
const stepSql = (suffix: string): string => `
alter table channels add column topic${suffix} text;
create table pins${suffix} (
  id uuid primary key default gen_random_uuid(),
  message_id uuid not null references messages (id) on delete cascade,
  created_at timestamptz not null default now()
);
create index on pins${suffix} (message_id);
`;

/** provisioning's database when it holds about as many schema tenants as wanted (BENCH_SCALE=full leaves twice as many), else a new one. */
async function schemaTenantsDb(cluster: BenchCluster, wanted: number): Promise<BenchDb> {
  const shared = cluster.adopt(SCHEMA_TENANTS_KEY);
  if (shared) {
    const { rows } = await shared.pool.query<{ n: number }>(`select count(*)::int as n from public.tenants where isolation = 'schema'`);
    if (rows[0]!.n < wanted * 1.5) return shared;
    await shared.close();
  }
  return cluster.createDb('template_migration');
}

export const templateMigration: Benchmark = {
  name: 'template-migration',
  title: 'template migration: raw DDL loop vs migrateTenantSchemas (tenants:migrate)',
  rows: (scale) => [
    {
      id: 'migrate',
      metric: `new template version over ${schemasFor(scale).toLocaleString('en-US')} tenant schemas: raw DDL loop vs tenants:migrate`,
      unit: 's',
      target: { kind: 'ratio', op: '<=', limit: 2 },
    },
  ],

  async run(ctx) {
    const wanted = schemasFor(ctx.scale);
    const db = await schemaTenantsDb(ctx.cluster, wanted);
    const concurrency = db.env().TENANT_MIGRATION_CONCURRENCY;
    const pool = createPool(db.url, concurrency);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-template-'));
    try {
      const existing = (await db.pool.query<{ n: number }>(`select count(*)::int as n from public.tenants where isolation = 'schema'`))
        .rows[0]!.n;
      if (existing < wanted) {
        ctx.progress(`filling ${wanted - existing} schema tenants`);
        await fillSchemaTenants({
          pool: db.pool,
          rolePrefix: db.rolePrefix,
          // Numbered after anything a shared database already holds.
          from: 50_000 + existing,
          to: 50_000 + wanted,
          concurrency: 2,
          onProgress: (done, total) => ctx.progress(`  ${done}/${total}`),
        });
      }
      const { rows } = await db.pool.query<{ schema_name: string }>(
        `select schema_name from public.tenants where isolation = 'schema' order by slug`,
      );
      const schemas = rows.map((r) => r.schema_name);

      await cp(TEMPLATE_DIR, dir, { recursive: true });
      const next = latestVersion(await loadTemplate()) + 1;
      await writeFile(path.join(dir, `${String(next).padStart(4, '0')}_bench_pins.sql`), stepSql(''));

      ctx.progress(`baseline: raw DDL over ${schemas.length} schemas, concurrency ${concurrency}`);
      const raw = await timed(() =>
        forEachLimit(schemas, concurrency, (schema) =>
          withTransaction(pool, async (client) => {
            await client.query(`set local search_path = ${client.escapeIdentifier(schema)}, public, pg_temp`);
            await client.query(stepSql('_raw'));
          }),
        ),
      );

      ctx.progress(`project: migrateTenantSchemas over ${schemas.length} schemas, concurrency ${concurrency}`);
      const project = await timed(() => migrateTenantSchemas({ pool, concurrency, templateDir: dir }));

      const report = project.result;
      ctx.check('tenants:migrate upgraded every schema, none failed', [schemas.length, 0], [report.upgraded.length, report.failed.length]);
      const { rows: counts } = await db.pool.query<{ pins: number; raw: number; at_next: number }>(
        `select count(*) filter (where to_regclass(format('%I.pins', t.schema_name)) is not null)::int as pins,
                count(*) filter (where to_regclass(format('%I.pins_raw', t.schema_name)) is not null)::int as raw,
                count(*) filter (where t.template_version = $1)::int as at_next
         from public.tenants t where t.isolation = 'schema'`,
        [next],
      );
      ctx.check(
        'both sides built the new table in every schema, and every tenant records the new version',
        [schemas.length, schemas.length, schemas.length],
        [counts[0]!.pins, counts[0]!.raw, counts[0]!.at_next],
      );
      const perSchema = (ms: number) => (ms / schemas.length).toFixed(1);
      return {
        migrate: {
          baseline: raw.ms / 1000,
          project: project.ms / 1000,
          note: `${schemas.length} schemas at concurrency ${concurrency}: ${perSchema(raw.ms)} vs ${perSchema(project.ms)} ms per schema; the baseline ran first, so the project ran against the larger catalog`,
        },
      };
    } finally {
      await pool.end();
      await rm(dir, { recursive: true, force: true });
      await db.close();
    }
  },
};
