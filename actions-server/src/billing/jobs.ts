// Billing's jobs: applying the Stripe events the webhook stored, the
// time-driven rules (trials that end, grace periods that run out), recovery
// from Stripe, and the Stripe clean-up the database queues when a tenant is
// closed or deleted. Each is safe to run twice.
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { asSystem } from '../db/tx.ts';
import { defineJob, periodicJob, pruneJob } from '../jobs/types.ts';
import { replayStart, replayStripeEvents, retryFailedEvents } from './replay.ts';
import { suspendPastDueTenants } from './service.ts';
import { closeSubscription, deleteCustomer } from './subscription.ts';
import { APPLY_EVENTS_JOB, applyPendingEvents } from './webhooks.ts';

/**
 * Trials that ended without a paying subscription: the free plan (or suspended,
 * TRIAL_END_ACTION=suspend). One transaction per tenant, each re-checking under
 * the row lock, so a run killed half-way is finished by the next without
 * touching a tenant twice. Audited as `cron`; the tenant trigger notifies every cache.
 */
export async function endDueTrials(
  ctx: Pick<AppContext, 'pool' | 'log' | 'env'>,
  now: Date,
): Promise<{ tenantId: string; outcome: string }[]> {
  const { rows } = await ctx.pool.query<{ id: string }>('select id from public.trials_due($1) as id', [now]);
  const ended: { tenantId: string; outcome: string }[] = [];
  for (const { id } of rows) {
    const outcome = await asSystem(
      ctx.pool,
      async (client) =>
        (
          await client.query<{ outcome: string | null }>('select public.end_trial($1, $2, $3) as outcome', [
            id,
            now,
            ctx.env.TRIAL_END_ACTION,
          ])
        ).rows[0]?.outcome ?? null,
      { kind: 'cron' },
    );
    if (outcome) {
      ended.push({ tenantId: id, outcome });
      ctx.log.info({ tenantId: id, outcome }, 'trial ended');
    }
  }
  return ended;
}

export const BILLING_JOBS = [
  // Queued by the webhook after each store; the schedule catches a store whose queueing was lost.
  periodicJob(APPLY_EVENTS_JOB, '* * * * *', async (ctx) => {
    if (ctx.stripe) await applyPendingEvents({ ...ctx, stripe: ctx.stripe });
  }),
  periodicJob('billing.end-trials', '* * * * *', endDueTrials),
  periodicJob('billing.suspend-past-due', '*/5 * * * *', suspendPastDueTenants),
  periodicJob('billing.retry-failed-events', '*/5 * * * *', async (ctx, now) => {
    if (ctx.stripe) await retryFailedEvents(ctx, now, ctx.env.STRIPE_EVENT_MAX_ATTEMPTS);
  }),
  defineJob({
    name: 'billing.replay',
    payload: z.object({ since: z.iso.datetime({ offset: true }).optional() }).loose(),
    runOnWorkerStart: (ctx) => ctx.env.STRIPE_REPLAY_ON_START && ctx.stripe !== undefined,
    maxAttempts: 5,
    run: async (payload, ctx) => {
      if (!ctx.stripe) return;
      const since = payload.since ? new Date(payload.since) : await replayStart(ctx, new Date(), ctx.env.STRIPE_REPLAY_MAX_HOURS);
      await replayStripeEvents(ctx, since);
    },
  }),
  pruneJob('billing.prune-events', '0 4 * * *', 30, 'public.purge_stripe_webhooks'),
  defineJob({
    name: 'billing.close-subscription',
    payload: z.object({ tenantId: z.uuid(), subscriptionId: z.string().min(1).max(255) }),
    maxAttempts: 25,
    run: async ({ tenantId, subscriptionId }, ctx) => {
      if (!ctx.stripe) {
        ctx.log.warn(
          { tenantId, subscriptionId },
          "billing is not configured: the closed tenant's subscription was not cancelled at Stripe",
        );
        return;
      }
      await closeSubscription(ctx, tenantId, subscriptionId);
    },
  }),
  defineJob({
    name: 'billing.delete-customer',
    payload: z.object({ tenantId: z.uuid(), customerId: z.string().min(1).max(255) }),
    maxAttempts: 25,
    run: async ({ tenantId, customerId }, ctx) => {
      if (!ctx.stripe) {
        ctx.log.warn({ tenantId, customerId }, "billing is not configured: the deleted tenant's Stripe customer was not deleted");
        return;
      }
      await deleteCustomer(ctx, tenantId, customerId);
    },
  }),
];
