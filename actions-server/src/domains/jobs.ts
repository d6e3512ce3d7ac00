// Custom domain checks run by the job runner: pending domains with backoff
// (their next check time is in the table), and a daily re-check of verified ones.
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { defineJob } from '../jobs/types.ts';
import { checkPendingDomains, recheckVerifiedDomains, type DomainDeps } from './verification.ts';

const deps = (ctx: AppContext): DomainDeps => ({ pool: ctx.pool, env: ctx.env, log: ctx.log });

/** A periodic check over custom domains; nothing to do while they are switched off. */
const domainJob = (name: string, schedule: string, check: (deps: DomainDeps) => Promise<unknown>) =>
  defineJob({
    name,
    payload: z.looseObject({}),
    schedule,
    run: async (_payload, ctx) => {
      if (ctx.env.ENABLE_CUSTOM_DOMAINS) await check(deps(ctx));
    },
  });

export const DOMAIN_JOBS = [
  // Every minute; each domain's own backoff decides whether it is due.
  domainJob('domains.check-pending', '* * * * *', checkPendingDomains),
  domainJob('domains.recheck-verified', '17 4 * * *', recheckVerifiedDomains),
];
