// `tenants export|import|adopt` and `people erase`: data portability for
// operators. Bad input (an unreadable or altered archive, a taken slug, a
// template too new, a source that is not template-shaped) exits 2 with the
// reason, and nothing is created.
import type { Command } from 'commander';
import { AppError } from '../core/errors.ts';
import { exportTenant } from '../portability/export.ts';
import { importTenant } from '../portability/import.ts';
import { adoptDatabase } from '../portability/adopt.ts';
import { erasePerson } from '../portability/people.ts';
import type { RestoreDeps } from '../portability/restore.ts';
import { choiceArg, printJson, UsageError, withRuntime, withTenant, type CliRuntime, cliActor } from './runtime.ts';

/** Refusals of bad input (4xx) exit 2 with their reason; anything else is a failure (exit 1). */
async function asUsage<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AppError && err.status < 500) throw new UsageError(`${err.code}: ${err.message}`);
    throw err;
  }
}

const restoreDeps = (rt: CliRuntime): RestoreDeps => ({
  pool: rt.db.pool,
  databases: rt.ctx.databases,
  rolePrefix: rt.env.TENANT_ROLE_PREFIX,
  actor: cliActor,
});

export function register(program: Command): void {
  const tenants = program.commands.find((c) => c.name() === 'tenants') ?? program.command('tenants');

  tenants
    .command('export')
    .description("write a tenant's data and registry rows to a .tar.gz archive (manifest with row counts and SHA-256 per file)")
    .argument('<slug>')
    .requiredOption('--out <file>', 'archive to write (.tar.gz)')
    .action((slug: string, opts: { out: string }) =>
      withTenant(slug, async (rt, id) => {
        const { manifest, bytes, sha256 } = await asUsage(exportTenant({ pool: rt.db.pool, databases: rt.ctx.databases }, id, opts.out));
        printJson({
          file: opts.out,
          bytes,
          sha256,
          tier: manifest.tier,
          tables: Object.fromEntries(manifest.tables.map((t) => [t.name, t.rows])),
        });
      }),
    );

  tenants
    .command('import')
    .description('create a new tenant from an export archive (checked whole before anything is created)')
    .argument('<file>')
    .requiredOption('--slug <slug>', 'slug of the new tenant')
    .option(
      '--to <tier>',
      'pooled, schema or database (default: the tier it was exported from)',
      choiceArg(['pooled', 'schema', 'database'] as const),
    )
    .action((file: string, opts: { slug: string; to?: 'pooled' | 'schema' | 'database' }) =>
      withRuntime(async (rt) => {
        const { tenant, tables } = await asUsage(importTenant(restoreDeps(rt), file, { slug: opts.slug, to: opts.to }));
        printJson({ id: tenant.id, slug: tenant.slug, isolation: tenant.isolation, tables });
      }),
    );

  tenants
    .command('adopt')
    .description('copy a single-tenant database shaped like the tenant template into a new tenant (the source is only read)')
    .argument('<slug>')
    .requiredOption('--from <url>', 'postgres:// URL of the source database')
    .option('--schema <name>', 'schema holding the template tables', 'public')
    .option('--to <tier>', 'schema or pooled', choiceArg(['schema', 'pooled'] as const), 'schema')
    .option('--owner-email <email>', 'the owner (default: the earliest member with an e-mail)')
    .option('--plan <plan>', 'plan of the new tenant', 'free')
    .option('--name <name>', 'display name (default: the slug)')
    .action(
      (slug: string, opts: { from: string; schema: string; to: 'schema' | 'pooled'; ownerEmail?: string; plan: string; name?: string }) =>
        withRuntime(async (rt) => {
          if (!/^[A-Z_]\w{0,62}$/i.test(opts.schema)) throw new UsageError(`--schema: ${opts.schema.slice(0, 80)} is not a schema name`);
          if (!/^postgres(?:ql)?:\/\//.test(opts.from)) throw new UsageError('--from: expected a postgres:// URL');
          const result = await asUsage(adoptDatabase(restoreDeps(rt), { slug, ...opts }));
          printJson({
            id: result.tenant.id,
            slug: result.tenant.slug,
            isolation: result.tenant.isolation,
            tables: result.tables,
            skipped: result.skipped,
          });
        }),
    );

  program
    .command('people')
    .description("a person's rights")
    .command('erase')
    .description(
      'erase a person: identity pseudonymised, memberships ended, authored rows deleted or kept per ERASE_AUTHORED_ROWS, audit personal data removed',
    )
    .argument('<email>')
    .action((email: string) =>
      withRuntime(async (rt) => {
        const { rows } = await rt.db.pool.query<{ id: string }>('select id from public.identities where email = $1', [email.toLowerCase()]);
        if (!rows[0]) throw new UsageError(`no person with e-mail ${email.slice(0, 100)}`);
        const report = await asUsage(erasePerson(rt.ctx, rows[0].id, cliActor));
        printJson(report);
      }),
    );
}
