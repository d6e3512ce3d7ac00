// Custom domain checks run by the job runner: pending domains with backoff
// (their next check time is in the table), and a daily re-check of verified ones.
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { defineJob } from '../jobs/types.ts';
import { checkPendingDomains, recheckVerifiedDomains, type DomainDeps } from './verification.ts';

const deps = (ctx: AppContext): DomainDeps => ({ pool: ctx.pool, env: ctx.env, log: ctx.log });

export const DOMAIN_JOBS = [
  defineJob({
    name: 'domains.check-pending',
    payload: z.looseObject({}),
    // Every minute; each domain's own backoff decides whether it is due.
    schedule: '* * * * *',
    run: async (_payload, ctx) => {
      if (ctx.env.ENABLE_CUSTOM_DOMAINS) await checkPendingDomains(deps(ctx));
    },
  }),
  defineJob({
    name: 'domains.recheck-verified',
    payload: z.looseObject({}),
    schedule: '17 4 * * *',
    run: async (_payload, ctx) => {
      if (ctx.env.ENABLE_CUSTOM_DOMAINS) await recheckVerifiedDomains(deps(ctx));
    },
  }),
];
