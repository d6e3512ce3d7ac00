// `tenants ...`: the operator's view of tenants: list, show, create, status,
// plan, template upgrades, domain verification, moves and hard deletes. Every
// command runs the same services as the server, with the actor `cli`.
import type { Command } from 'commander';
import { Option } from 'commander';
import { AppError } from '../core/errors.ts';
import { migrateTenantSchemas } from '../tenants/template-migrate.ts';
import { changeStatus, hardDeleteTenant, markCustomDomainVerified } from '../tenants/service.ts';
import { provisionDeps, provisionTenant } from '../tenants/provision.ts';
import { setTenantPlan } from '../tenants/directory.ts';
import { createTenantSchema, isolationSchema, planIdSchema } from '../tenants/schemas.ts';
import { moveTenantSchema } from '../tenants/move/schemas.ts';
import { abortMove } from '../tenants/move/abort.ts';
import { activeMove, rebalanceCandidates, requestMove } from '../tenants/move/request.ts';
import { moveDeps } from '../tenants/move/deps.ts';
import { resumeMoves, runMove } from '../tenants/move/run.ts';
import { intArg, printJson, progressReporter, tenantIdOf, UsageError, withRuntime, withTenant, cliActor } from './runtime.ts';
import { readSecret } from './secrets.ts';
import { hasuraExposure } from '../hasura/wiring.ts';

const ISOLATIONS = isolationSchema.options;

export function register(program: Command): void {
  const tenants = program.command('tenants').description('tenants: list, inspect, create, change, upgrade, move, delete');

  tenants
    .command('list')
    .description('list tenants')
    .action(() =>
      withRuntime(async ({ db }) => {
        const { rows } = await db.pool.query(
          'select slug, status, isolation, plan, template_version, database_name, database_url_env from public.tenants order by slug',
        );
        console.table(rows);
      }),
    );

  tenants
    .command('show')
    .description("one tenant's registry row, settings and members")
    .argument('<slug>')
    .action((slug: string) =>
      withTenant(slug, async (rt, id) => {
        const tenant: unknown = (
          await rt.db.pool.query(
            `select id, slug, name, status, plan, isolation, template_version, custom_domain, custom_domain_verified_at,
                    trial_ends_at, suspended_at, created_at from public.tenants where id = $1`,
            [id],
          )
        ).rows[0];
        const members: unknown[] = (
          await rt.db.pool.query(
            `select i.email, m.role, m.created_at from public.memberships m join public.identities i on i.id = m.identity_id
              where m.tenant_id = $1 order by m.created_at`,
            [id],
          )
        ).rows;
        printJson({ tenant, members });
      }),
    );

  tenants
    .command('create')
    .description('create a tenant and its owner (owner password from OWNER_PASSWORD or a prompt)')
    .requiredOption('--slug <slug>', 'subdomain and identifier')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--owner-email <email>', "the owner's email")
    .requiredOption('--owner-name <name>', "the owner's name")
    .option('--plan <plan>', 'plan id', 'free')
    .option('--trial', 'start a paid plan as a trial')
    .addOption(new Option('--isolation <tier>', 'placement tier').choices(ISOLATIONS))
    .option('--database-url-env <name>', 'TENANT_DATABASE_URL_<NAME> for a database-tier tenant on another server')
    .action(
      (opts: {
        slug: string;
        name: string;
        ownerEmail: string;
        ownerName: string;
        plan: string;
        trial?: boolean;
        isolation?: string;
        databaseUrlEnv?: string;
      }) =>
        withRuntime(async ({ ctx }) => {
          const ownerPassword = await readSecret('OWNER_PASSWORD', "Owner's password: ");
          const parsed = createTenantSchema.safeParse({
            name: opts.name,
            slug: opts.slug,
            ownerEmail: opts.ownerEmail,
            ownerName: opts.ownerName,
            ownerPassword,
            plan: opts.plan,
            trial: opts.trial ?? false,
            ...(opts.isolation ? { isolation: opts.isolation } : {}),
            ...(opts.databaseUrlEnv ? { databaseUrlEnv: opts.databaseUrlEnv } : {}),
          });
          if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
          const { tenant } = await provisionTenant(provisionDeps(ctx), parsed.data, { platformAdmin: true, actor: cliActor });
          console.log(`created ${tenant.slug} (${tenant.id}) on ${tenant.isolation}, plan ${tenant.plan}`);
        }),
    );

  for (const change of ['suspend', 'reactivate'] as const) {
    tenants
      .command(change)
      .description(`${change} a tenant (audited; caches hear of it at once)`)
      .argument('<slug>')
      .action((slug: string) =>
        withTenant(slug, async (rt, id) => {
          const t = await changeStatus(rt.db.pool, id, change, cliActor);
          console.log(`${t.slug}: ${t.status}`);
        }),
      );
  }

  tenants
    .command('set-plan')
    .description("change a tenant's plan without Stripe (custom and manual contracts; audited)")
    .argument('<slug>')
    .argument('<plan>', 'plan id', (v: string) => planIdSchema.parse(v))
    .action((slug: string, plan: string) =>
      withTenant(slug, async (rt, id) => {
        await setTenantPlan(rt.db.pool, id, plan, cliActor).catch((err: unknown) => {
          throw err instanceof AppError && err.code === 'VALIDATION_FAILED' ? new UsageError(`no plan ${plan}`) : err;
        });
        console.log(`${slug}: plan ${plan}`);
      }),
    );

  tenants
    .command('migrate')
    .description('upgrade every schema and database tenant to the latest template')
    .option('--concurrency <n>', 'tenants upgraded at once', intArg(1, 64))
    .option('--template-dir <dir>', 'template folder (tests and rehearsals)')
    .action((opts: { concurrency?: number; templateDir?: string }) =>
      withRuntime(async ({ env, db, ctx }) => {
        const progress = progressReporter('tenants');
        const sources = progressReporter('hasura sources');
        const report = await migrateTenantSchemas({
          pool: db.pool,
          databases: ctx.databases,
          concurrency: opts.concurrency ?? env.TENANT_MIGRATION_CONCURRENCY,
          templateDir: opts.templateDir,
          hasura: hasuraExposure(env, db.pool, ctx.log, ctx.databases),
          onProgress: (done, total, slug, phase) => (phase === 'schema' ? progress : sources).update(done, total, slug),
        });
        progress.stop();
        sources.stop();
        console.log(
          `template v${report.target}: ${report.upgraded.length} upgraded, ${report.skipped.length} already done elsewhere, ${report.failed.length} failed`,
        );
        for (const f of report.failed) console.error(`  failed ${f.slug}: ${f.error}`);
        const md = report.metadata;
        if (md) {
          console.log(
            `hasura sources: ${md.synced.length} updated, ${md.failed.length} failed${md.retryQueued ? ' (a retry is queued)' : ''}`,
          );
          for (const f of md.failed)
            console.error(`  hasura source of ${f.slug} not updated (its GraphQL keeps the old shape): ${f.error}`);
        } else {
          console.log('hasura sources: not updated (HASURA_GRAPHQL_ENDPOINT is not set)');
        }
        if (report.failed.length || md?.failed.length) process.exitCode = 1;
      }),
    );

  tenants
    .command('verify-domain')
    .description("mark a tenant's custom domain as verified by hand (audited as manual)")
    .argument('<slug>')
    .action((slug: string) =>
      withTenant(slug, async (rt, id) => {
        const t = await markCustomDomainVerified(rt.db.pool, id, cliActor);
        console.log(`verified ${t.customDomain} for ${t.slug}`);
      }),
    );

  tenants
    .command('hard-delete')
    .description("drop a tenant's schema or database, role, Hasura source and rows (irreversible)")
    .argument('<slug>')
    .action((slug: string) =>
      withTenant(slug, async (rt, id) => {
        await hardDeleteTenant(rt.db.pool, id, cliActor, rt.ctx.deprovisioningSteps);
        console.log(`deleted ${slug}`);
      }),
    );

  tenants
    .command('move')
    .description('move a tenant between placement tiers while it keeps serving; run again after a crash to finish')
    .argument('<slug>')
    .addOption(new Option('--to <tier>', 'target tier').choices(ISOLATIONS))
    .option('--database-url-env <name>', 'TENANT_DATABASE_URL_<NAME>: the server of a database-tier target')
    .option('--drain-ms <ms>', 'how long in-flight writes get before the final sync', intArg(0, 600_000))
    .option('--resume', "finish the tenant's unfinished move")
    .option('--abort', 'abort the unfinished move before its switch (the tenant stays where it is)')
    .action((slug: string, opts: { to?: string; databaseUrlEnv?: string; drainMs?: number; resume?: boolean; abort?: boolean }) =>
      withRuntime(async (rt) => {
        const chosen = [opts.to !== undefined, opts.resume === true, opts.abort === true].filter(Boolean).length;
        if (chosen !== 1) throw new UsageError('give exactly one of --to <tier>, --resume or --abort');
        const tenantId = await tenantIdOf(rt, slug);
        const deps = { ...moveDeps(rt.ctx), drainMs: opts.drainMs };
        const active = await activeMove(rt.db.pool, tenantId);
        if (opts.abort) {
          if (!active) throw new UsageError(`${slug} has no unfinished move`);
          const aborted = await abortMove(deps, active.id, cliActor);
          console.log(`${slug}: move to ${aborted.to} ${aborted.state}`);
          return;
        }
        let moveId: string;
        if (opts.resume) {
          if (!active) {
            console.log(`${slug} has no unfinished move`);
            return;
          }
          moveId = active.id;
        } else {
          const parsed = moveTenantSchema.safeParse({
            to: opts.to,
            ...(opts.databaseUrlEnv ? { databaseUrlEnv: opts.databaseUrlEnv } : {}),
          });
          if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => i.message).join('; '));
          if (active && active.to !== parsed.data.to) {
            throw new UsageError(`${slug} is being moved to ${active.to} (step ${active.state}): --resume or --abort that move first`);
          }
          moveId = active?.id ?? (await requestMove(deps, tenantId, parsed.data, cliActor)).id;
          if (active) console.log(`${slug}: resuming its move to ${active.to} at ${active.state}`);
        }
        const done = await runMove(deps, moveId, { actor: cliActor, onStep: (step) => console.log(`${slug}: ${step}`) });
        console.log(`${slug}: ${done.from} -> ${done.to} ${done.state}`);
        if (done.state !== 'done') process.exitCode = 1;
      }),
    );

  tenants
    .command('rebalance')
    .description("finish unfinished moves, then move every tenant whose plan's placement differs from its tier")
    .option('--dry-run', 'only list the moves')
    .option('--drain-ms <ms>', 'how long in-flight writes get before each final sync', intArg(0, 600_000))
    .action((opts: { dryRun?: boolean; drainMs?: number }) =>
      withRuntime(async (rt) => {
        const deps = { ...moveDeps(rt.ctx), drainMs: opts.drainMs };
        let failed = 0;
        if (!opts.dryRun) {
          const resumed = await resumeMoves(deps, cliActor);
          for (const m of resumed.finished) console.log(`finished move ${m.id}: ${m.from} -> ${m.to} (${m.state})`);
          for (const f of resumed.failed) console.error(`  move ${f.moveId} failed: ${f.error}`);
          failed += resumed.failed.length;
        }
        for (const c of await rebalanceCandidates(rt.db.pool)) {
          if (opts.dryRun) {
            console.log(`would move ${c.slug}: ${c.from} -> ${c.to}`);
            continue;
          }
          try {
            const move = await requestMove(deps, c.tenantId, { to: c.to }, cliActor);
            const done = await runMove(deps, move.id, { actor: cliActor, onStep: (step) => console.log(`${c.slug}: ${step}`) });
            console.log(`${c.slug}: ${done.from} -> ${done.to} ${done.state}`);
          } catch (err) {
            // One tenant's failed move does not stop the others.
            failed++;
            console.error(`  ${c.slug}: ${(err as Error).message}`);
          }
        }
        if (failed) process.exitCode = 1;
      }),
    );
}
