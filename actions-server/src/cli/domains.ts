// `domains ...`: custom domain proofs from the operator's side: a tenant's
// status, a check now, and one run of the re-check jobs. Manual verification
// without DNS stays `tenants verify-domain <slug>`.
import type { Command } from 'commander';
import { AppError } from '../core/errors.ts';
import { checkPendingDomains, domainStatus, recheckVerifiedDomains, verifyDomainNow, type DomainDeps } from '../domains/verification.ts';
import { printJson, withRuntime, withTenant, type CliRuntime, cliActor } from './runtime.ts';

const deps = (rt: CliRuntime): DomainDeps => ({ pool: rt.db.pool, env: rt.env, log: rt.ctx.log });

export function register(program: Command): void {
  const domains = program.command('domains').description('custom domains: proof status, check now, re-check');

  domains
    .command('status')
    .description("a tenant's custom domain: the TXT record to publish, state, last and next check")
    .argument('<slug>')
    .action((slug: string) =>
      withTenant(slug, async (rt, id) => {
        printJson(await domainStatus(deps(rt), id));
      }),
    );

  domains
    .command('check')
    .description("check a tenant's custom domain in DNS now (exit 1 when it is not verified)")
    .argument('<slug>')
    .action((slug: string) =>
      withTenant(slug, async (rt, id) => {
        try {
          const status = await verifyDomainNow(deps(rt), id, cliActor);
          console.log(`verified ${status.domain} (${status.method})`);
        } catch (err) {
          if (!(err instanceof AppError) || (err.code !== 'DOMAIN_NOT_VERIFIED' && err.code !== 'DNS_LOOKUP_FAILED')) throw err;
          console.error(err.message);
          process.exitCode = 1;
        }
      }),
    );

  domains
    .command('recheck')
    .description('run the re-check jobs once: pending domains that are due, then verified domains not checked today')
    .action(() =>
      withRuntime(async (rt) => {
        const pending = await checkPendingDomains(deps(rt));
        const verified = await recheckVerifiedDomains(deps(rt));
        console.log(`checked ${pending} pending and ${verified} verified domains`);
      }),
    );
}
