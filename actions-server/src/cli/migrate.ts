// `migrate up|down|status`: the registry database's migrations, and database-tier tenants' databases.
import type { Command } from 'commander';
import { appliedVersions, listMigrations, migrateDown, migrateUp } from '../db/migrate.ts';
import { installJobQueue } from '../jobs/runner.ts';
import { intArg, withRuntime } from './runtime.ts';

export function register(program: Command): void {
  const migrate = program.command('migrate').description('database migrations (hasura/migrations/default)');
  migrate
    .command('up', { isDefault: true })
    .description("apply pending migrations here and in every database-tier tenant's database")
    .action(() =>
      withRuntime(async ({ db, ctx }) => {
        const applied = await migrateUp(db.pool);
        await installJobQueue(db.pool);
        console.log(applied.length ? applied.map((m) => `applied ${m}`).join('\n') : 'nothing to apply');
        const tenants = await ctx.databases.migrateAll((line) => console.log(line));
        const failed = tenants.filter((t) => t.error !== undefined);
        if (tenants.length) console.log(`tenant databases: ${tenants.length - failed.length} up to date, ${failed.length} failed`);
        if (failed.length) process.exitCode = 1;
      }),
    );
  migrate
    .command('down')
    .description('roll back the last N migrations')
    .argument('[count]', 'how many', intArg(1, 1000), 1)
    .action((count: number) =>
      withRuntime(async ({ db }) => {
        const reverted = await migrateDown(db.pool, count);
        console.log(reverted.map((m) => `reverted ${m}`).join('\n') || 'nothing to revert');
      }),
    );
  migrate
    .command('status')
    .description('list migrations and whether each is applied')
    .action(() =>
      withRuntime(async ({ db }) => {
        const done = await appliedVersions(db.pool);
        for (const m of await listMigrations()) console.log(`${done.has(m.version) ? 'applied ' : 'pending '} ${m.version}_${m.name}`);
      }),
    );
}
