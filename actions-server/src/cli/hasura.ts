// `hasura ...`: Hasura's metadata against the registry and the template.
import type { Command } from 'commander';
import { hasuraExposure } from '../hasura/wiring.ts';
import { formatDriftTable } from '../hasura/drift.ts';
import { reconcile } from '../hasura/reconcile.ts';
import { UsageError, withRuntime } from './runtime.ts';

export function register(program: Command): void {
  const hasura = program.command('hasura').description("hasura: check and repair the tenants' sources in Hasura's metadata");

  hasura
    .command('reconcile')
    .description('compare the metadata with the registry and the template, print the drift, and repair it')
    .option('--dry-run', 'only print the drift')
    .action((opts: { dryRun?: boolean }) =>
      withRuntime(async ({ env, db, ctx }) => {
        const deps = hasuraExposure(env, db.pool, ctx.log, ctx.databases);
        if (!deps) throw new UsageError('HASURA_GRAPHQL_ENDPOINT, HASURA_GRAPHQL_ADMIN_SECRET and HASURA_TENANT_DATABASE_URL must be set');
        const dryRun = opts.dryRun === true;
        const report = await reconcile(deps, { dryRun });
        console.log(formatDriftTable(report.drift));
        const summary = `${report.drift.length} drift${report.drift.length === 1 ? '' : 's'}`;
        console.log(
          dryRun
            ? `${summary} (dry run: nothing changed)`
            : `${summary}; ${report.repaired.length} source(s) repaired, ${report.failed.length} failed`,
        );
        for (const f of report.failed) console.error(`  ${f.source} not repaired: ${f.error}`);
        if (report.failed.length) process.exitCode = 1;
      }),
    );
}
