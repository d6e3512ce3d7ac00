// `db dump|lint|hasura-login`: the schema dump kept in the repository, the
// catalog's shape rules, and the login of the database roles Hasura connects as.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { dumpFreshSchema, SCHEMA_DUMP_FILE } from '../db/dump.ts';
import { formatLintReport, lintDatabase } from '../db/lint.ts';
import { Option } from 'commander';
import { UsageError, withDatabase } from './runtime.ts';

export function register(program: Command): void {
  const db = program.command('db').description('schema dump, shape checks, Hasura database logins');
  db.command('hasura-login')
    .description('give a Hasura database role (created NOLOGIN by the migrations) a login and password')
    .addOption(new Option('--role <role>', 'the role').choices(['hasura_tenants', 'hasura']).default('hasura_tenants'))
    .requiredOption('--password-env <name>', 'environment variable holding the password (never an argument)')
    .action((opts: { role: string; passwordEnv: string }) =>
      withDatabase(async ({ db: database }) => {
        const password = process.env[opts.passwordEnv];
        if (!password) throw new UsageError(`${opts.passwordEnv} is not set`);
        if (password.length < 16) throw new UsageError(`${opts.passwordEnv}: at least 16 characters`);
        const client = await database.pool.connect();
        try {
          // ALTER ROLE takes no parameters: the identifier is quoted and the password escaped as a literal.
          await client.query(`alter role ${client.escapeIdentifier(opts.role)} login password ${client.escapeLiteral(password)}`);
        } finally {
          client.release();
        }
        console.log(`${opts.role} can log in with the password from ${opts.passwordEnv}`);
      }),
    );
  db.command('dump')
    .description('migrate a scratch database and write its schema to sql/schema.sql')
    .action(() =>
      withDatabase(async ({ db: database }) => {
        await writeFile(SCHEMA_DUMP_FILE, await dumpFreshSchema(database.pool, database.url));
        console.log(`wrote ${path.relative(process.cwd(), SCHEMA_DUMP_FILE)}`);
      }),
    );
  db.command('lint')
    .description("check this database's shape (RLS, definer functions, roles, Citus rules)")
    .action(() =>
      withDatabase(async ({ db: database }) => {
        const report = await lintDatabase(database.pool);
        console.log(formatLintReport(report));
        if (report.violations.length || report.unusedExceptions.length) process.exitCode = 1;
      }),
    );
}
