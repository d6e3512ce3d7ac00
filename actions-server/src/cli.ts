// `npm run cli -- <command>`: operator commands against DATABASE_URL (or the
// embedded database).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { loadConfig } from './core/config.ts';
import { createLogger } from './core/log.ts';
import { openDatabase } from './db/database.ts';
import { appliedVersions, listMigrations, migrateDown, migrateUp } from './db/migrate.ts';
import { installJobQueue } from './jobs/runner.ts';
import { migrateTenantSchemas } from './tenants/template-migrate.ts';
import { dumpFreshSchema, SCHEMA_DUMP_FILE } from './db/dump.ts';
import { formatLintReport, lintDatabase } from './db/lint.ts';
import { hardDeleteTenant, markCustomDomainVerified } from './tenants/service.ts';
import { hasuraExposure } from './hasura/wiring.ts';
import { unexposeTenant } from './hasura/exposure.ts';
import { tenantDatabases } from './server.ts';
import { moveTenantSchema } from './tenants/move/schemas.ts';
import {
  abortMove,
  activeMove,
  rebalanceCandidates,
  requestMove,
  resumeMoves,
  runMove,
  type MoveDeps,
} from './tenants/move/service.ts';

const USAGE = `usage: npm run cli -- <command>
  migrate [up]                     apply pending migrations (hasura/migrations/default), here and in
                                   every database-tier tenant's database
  migrate down [N]                 roll back the last N migrations (default 1)
  migrate status                   list migrations and whether they are applied
  tenants migrate [--concurrency N] [--template-dir DIR]
                                   upgrade every schema and database tenant to the latest template
  tenants list                     list tenants
  tenants verify-domain <slug>     mark a tenant's custom domain as verified
  tenants hard-delete <slug>       drop a tenant's schema or database, role and rows (irreversible)
  tenants move <slug> --to pooled|schema|database [--database-url-env TENANT_DATABASE_URL_<NAME>] [--drain-ms N]
                                   move a tenant between placement tiers while it keeps serving; run it
                                   again after a crash and it finishes the move
  tenants move <slug> --resume     finish the tenant's unfinished move
  tenants move <slug> --abort      abort it before its switch (the tenant stays where it is)
  tenants rebalance [--dry-run]    finish unfinished moves, then move every tenant whose plan's placement
                                   (plans.placement) differs from its tier, one at a time
  db dump                          migrate a scratch database and write its schema to sql/schema.sql
  db lint                          check this database's shape (RLS, definer functions, roles, Citus rules)`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

async function main(argv: string[]): Promise<number> {
  const [group, command, ...rest] = argv;
  if (!group || group === 'help' || group === '--help') {
    console.log(USAGE);
    return group ? 0 : 2;
  }
  const env = loadConfig();
  const log = createLogger(env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL);
  const db = await openDatabase(env, log);
  const databases = tenantDatabases(env, log, db.pool, db.url);
  try {
    if (group === 'migrate') {
      if (!command || command === 'up') {
        const applied = await migrateUp(db.pool);
        await installJobQueue(db.pool);
        console.log(applied.length ? applied.map((m) => `applied ${m}`).join('\n') : 'nothing to apply');
        const tenants = await databases.migrateAll((line) => console.log(line));
        const failed = tenants.filter((t) => t.error !== undefined);
        if (tenants.length) console.log(`tenant databases: ${tenants.length - failed.length} up to date, ${failed.length} failed`);
        return failed.length ? 1 : 0;
      }
      if (command === 'down') {
        const reverted = await migrateDown(db.pool, Number(rest[0] ?? 1));
        console.log(reverted.map((m) => `reverted ${m}`).join('\n') || 'nothing to revert');
        return 0;
      }
      if (command === 'status') {
        const done = await appliedVersions(db.pool);
        for (const m of await listMigrations()) console.log(`${done.has(m.version) ? 'applied ' : 'pending '} ${m.version}_${m.name}`);
        return 0;
      }
    }
    if (group === 'tenants') {
      const slugId = async (slug: string | undefined): Promise<string> => {
        const { rows } = await db.pool.query<{ id: string }>('select id from public.tenants where slug = $1', [slug]);
        if (!rows[0]) throw new Error(`no tenant with slug ${slug}`);
        return rows[0].id;
      };
      if (command === 'migrate') {
        const bar = process.stdout.isTTY ? new cliProgress.SingleBar({ format: 'tenants [{bar}] {value}/{total} {slug}' }, cliProgress.Presets.shades_classic) : undefined;
        let started = false;
        const report = await migrateTenantSchemas({
          pool: db.pool,
          databases,
          concurrency: Number(flag(rest, '--concurrency') ?? env.TENANT_MIGRATION_CONCURRENCY),
          templateDir: flag(rest, '--template-dir'),
          hasura: hasuraExposure(env, db.pool, log, databases),
          onProgress: (done, total, slug, phase) => {
            if (phase === 'metadata') {
              if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) console.log(`hasura sources: ${done}/${total}`);
            } else if (bar) {
              if (!started) bar.start(total, 0, { slug });
              started = true;
              bar.update(done, { slug });
            } else if (done === total || done % Math.max(1, Math.floor(total / 10)) === 0) {
              console.log(`tenants: ${done}/${total}`);
            }
          },
        });
        bar?.stop();
        console.log(
          `template v${report.target}: ${report.upgraded.length} upgraded, ${report.skipped.length} already done elsewhere, ${report.failed.length} failed`,
        );
        for (const f of report.failed) console.error(`  failed ${f.slug}: ${f.error}`);
        const md = report.metadata;
        if (md) {
          console.log(`hasura sources: ${md.synced.length} updated, ${md.failed.length} failed${md.retryQueued ? ' (retry queued)' : ''}`);
          for (const f of md.failed) console.error(`  hasura source of ${f.slug} not updated (GraphQL keeps its old shape): ${f.error}`);
        } else {
          console.log('hasura sources: not updated (HASURA_GRAPHQL_ENDPOINT is not set)');
        }
        return report.failed.length || md?.failed.length ? 1 : 0;
      }
      if (command === 'list') {
        const { rows } = await db.pool.query('select slug, status, isolation, plan, template_version, database_name, database_url_env from public.tenants order by slug');
        console.table(rows);
        return 0;
      }
      if (command === 'verify-domain') {
        const t = await markCustomDomainVerified(db.pool, await slugId(rest[0]));
        console.log(`verified ${t.customDomain} for ${t.slug}`);
        return 0;
      }
      if (command === 'move' || command === 'rebalance') {
        const drainMs = flag(rest, '--drain-ms');
        if (drainMs !== undefined && !/^\d{1,9}$/.test(drainMs)) throw new Error('--drain-ms takes a number of milliseconds');
        const deps: MoveDeps = {
          env,
          pool: db.pool,
          log,
          databases,
          exposure: hasuraExposure(env, db.pool, log, databases),
          drainMs: drainMs === undefined ? undefined : Number(drainMs),
        };
        const actor = { actor: 'cli' };
        const progress = (slug: string) => (step: string) => console.log(`${slug}: ${step}`);
        if (command === 'rebalance') {
          const dryRun = rest.includes('--dry-run');
          let failed = 0;
          if (!dryRun) {
            const resumed = await resumeMoves(deps, actor);
            for (const m of resumed.finished) console.log(`finished move ${m.id}: ${m.from} -> ${m.to} (${m.state})`);
            for (const f of resumed.failed) console.error(`  move ${f.moveId} failed: ${f.error}`);
            failed += resumed.failed.length;
          }
          for (const c of await rebalanceCandidates(db.pool)) {
            if (dryRun) {
              console.log(`would move ${c.slug}: ${c.from} -> ${c.to}`);
              continue;
            }
            try {
              const move = await requestMove(deps, c.tenantId, { to: c.to }, actor);
              const done = await runMove(deps, move.id, { actor, onStep: progress(c.slug) });
              console.log(`${c.slug}: ${done.from} -> ${done.to} ${done.state}`);
            } catch (err) {
              failed++;
              console.error(`  ${c.slug}: ${(err as Error).message}`);
            }
          }
          return failed ? 1 : 0;
        }
        const slug = rest[0];
        const tenantId = await slugId(slug);
        const active = await activeMove(db.pool, tenantId);
        if (rest.includes('--abort')) {
          if (!active) throw new Error(`${slug} has no unfinished move`);
          const aborted = await abortMove(deps, active.id, actor);
          console.log(`${slug}: move to ${aborted.to} ${aborted.state}`);
          return 0;
        }
        let moveId: string;
        if (rest.includes('--resume')) {
          if (!active) {
            console.log(`${slug} has no unfinished move`);
            return 0;
          }
          moveId = active.id;
        } else {
          const databaseUrlEnv = flag(rest, '--database-url-env');
          const parsed = moveTenantSchema.safeParse({ to: flag(rest, '--to'), ...(databaseUrlEnv ? { databaseUrlEnv } : {}) });
          if (!parsed.success) throw new Error(`--to pooled|schema|database [--database-url-env TENANT_DATABASE_URL_<NAME>]: ${parsed.error.issues[0]?.message}`);
          if (active && active.to !== parsed.data.to) {
            throw new Error(`${slug} is being moved to ${active.to} (step ${active.state}): --resume or --abort that move first`);
          }
          moveId = active?.id ?? (await requestMove(deps, tenantId, parsed.data, actor)).id;
          if (active) console.log(`${slug}: resuming its move to ${active.to} at ${active.state}`);
        }
        const done = await runMove(deps, moveId, { actor, onStep: progress(slug!) });
        console.log(`${slug}: ${done.from} -> ${done.to} ${done.state}`);
        return done.state === 'done' ? 0 : 1;
      }
      if (command === 'hard-delete') {
        const exposure = hasuraExposure(env, db.pool, log, databases);
        // The source first (it connects to the tenant's database), then the database.
        const steps = [
          ...(exposure ? [(id: string) => unexposeTenant(exposure, id)] : []),
          (id: string) => databases.dropFor(id),
        ];
        await hardDeleteTenant(db.pool, await slugId(rest[0]), { actor: 'cli' }, steps);
        console.log(`deleted ${rest[0]}`);
        return 0;
      }
    }
    if (group === 'db' && command === 'dump') {
      await writeFile(SCHEMA_DUMP_FILE, await dumpFreshSchema(db.pool, db.url));
      console.log(`wrote ${path.relative(process.cwd(), SCHEMA_DUMP_FILE)}`);
      return 0;
    }
    if (group === 'db' && command === 'lint') {
      const report = await lintDatabase(db.pool);
      console.log(formatLintReport(report));
      return report.violations.length || report.unusedExceptions.length ? 1 : 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await databases.close();
    await db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error((err as Error).message);
    process.exit(1);
  },
);
