// `npm run cli -- <command>`: operator commands against DATABASE_URL (or the
// embedded database).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { loadConfig } from './config.ts';
import { createLogger } from './log.ts';
import { openDatabase } from './db/database.ts';
import { appliedVersions, listMigrations, migrateDown, migrateUp } from './db/migrate.ts';
import { migrateTenantSchemas } from './tenants/template-migrate.ts';
import { dumpFreshSchema, SCHEMA_DUMP_FILE } from './db/dump.ts';
import { formatLintReport, lintDatabase } from './db/lint.ts';
import { hardDeleteTenant, markCustomDomainVerified } from './tenants/service.ts';
import { hasuraExposure } from './hasura/wiring.ts';
import { unexposeTenant } from './hasura/exposure.ts';
import { tenantDatabases } from './server.ts';

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
          onProgress: (done, total, slug) => {
            if (bar) {
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
        return report.failed.length ? 1 : 0;
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
