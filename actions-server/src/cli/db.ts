// `db dump|lint`: the schema dump kept in the repository, and the catalog's shape rules.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { dumpFreshSchema, SCHEMA_DUMP_FILE } from '../db/dump.ts';
import { formatLintReport, lintDatabase } from '../db/lint.ts';
import { withRuntime } from './runtime.ts';

export function register(program: Command): void {
  const db = program.command('db').description('schema dump and shape checks');
  db.command('dump')
    .description('migrate a scratch database and write its schema to sql/schema.sql')
    .action(() =>
      withRuntime(async ({ db: database }) => {
        await writeFile(SCHEMA_DUMP_FILE, await dumpFreshSchema(database.pool, database.url));
        console.log(`wrote ${path.relative(process.cwd(), SCHEMA_DUMP_FILE)}`);
      }),
    );
  db.command('lint')
    .description("check this database's shape (RLS, definer functions, roles, Citus rules)")
    .action(() =>
      withRuntime(async ({ db: database }) => {
        const report = await lintDatabase(database.pool);
        console.log(formatLintReport(report));
        if (report.violations.length || report.unusedExceptions.length) process.exitCode = 1;
      }),
    );
}
