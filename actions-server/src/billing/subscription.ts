// Managing a live subscription without the Stripe portal: change of plan or
// interval (with proration), cancellation (now or at period end), resumption;
// and the clean-up a closed or deleted tenant needs at Stripe. Every change is
// made at Stripe first, then applied to the tenant through the same decision as
// Stripe's events (applySubscriptionRead), so the webhook that follows is a no-op.
import Stripe from 'stripe';
import { AppError } from '../core/errors.ts';
import { asSystem, type Client } from '../db/tx.ts';
import { roleRank } from '../auth/tokens.ts';
import { parseBody } from '../http/handlers.ts';
import { isLive } from './lifecycle.ts';
import { priceFor, type BillingInterval } from './prices.ts';
import { cancelInputSchema, changePlanInputSchema, type CancelInput, type ChangePlanInput, type SubscriptionStatus } from './schemas.ts';
import { callStripe, requireStripe, type BillingDeps } from './stripe-client.ts';
import { applySubscriptionRead } from './webhooks.ts';
import type { BillingSummary } from './service.ts';
import type { MemberActor } from '../core/actor.ts';
import { getBilling } from './service.ts';

interface HeldSubscription {
  id: string;
  status: SubscriptionStatus | null;
  plan: string;
  interval: BillingInterval | null;
  cancelAtPeriodEnd: boolean;
  tenantStatus: string;
}

function assertBillingAdmin(actor: MemberActor): void {
  if (roleRank(actor.role) < roleRank('admin')) {
    throw new AppError('FORBIDDEN', "Billing is managed by the tenant's owners and admins");
  }
}

/** The tenant's live subscription, or 409 saying there is none. */
async function heldSubscription(client: Client, tenantId: string): Promise<HeldSubscription> {
  const row = (
    await client.query<{
      stripe_subscription_id: string | null;
      subscription_status: SubscriptionStatus | null;
      plan: string;
      billing_interval: BillingInterval | null;
      cancel_at_period_end: boolean;
      status: string;
    }>(
      `select stripe_subscription_id, subscription_status, plan, billing_interval, cancel_at_period_end, status
       from public.tenants where id = $1`,
      [tenantId],
    )
  ).rows[0];
  if (!row) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  if (row.status === 'cancelled' || row.status === 'archived') throw new AppError('TENANT_GONE', 'This tenant has been closed');
  if (row.stripe_subscription_id === null || !isLive(row.subscription_status)) {
    throw new AppError('CONFLICT', 'This tenant has no subscription; subscribe through checkout first', {
      subscriptionStatus: row.subscription_status,
    });
  }
  return {
    id: row.stripe_subscription_id,
    status: row.subscription_status,
    plan: row.plan,
    interval: row.billing_interval,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    tenantStatus: row.status,
  };
}

const readHeld = (deps: BillingDeps, actor: MemberActor) =>
  asSystem(deps.pool, (client) => heldSubscription(client, actor.tenantId), { userId: actor.userId });

const actorInfo = (actor: MemberActor) => ({ userId: actor.userId });

/**
 * Moves the subscription to another plan or interval at Stripe, prorated. A
 * downgrade the tenant's current usage does not fit is refused (409 listing each
 * limit) rather than leaving it over its limits.
 */
export async function changePlan(deps: BillingDeps, actor: MemberActor, rawInput: ChangePlanInput): Promise<BillingSummary> {
  assertBillingAdmin(actor);
  const stripe = requireStripe(deps);
  const input = parseBody(changePlanInputSchema, rawInput, 'change-plan input');
  const interval: BillingInterval = input.interval;
  const { held, price } = await asSystem(
    deps.pool,
    async (client) => {
      const plan = (
        await client.query<{ id: string; self_serve: boolean }>('select id, self_serve from public.plans where id = $1', [input.plan])
      ).rows[0];
      if (!plan) throw new AppError('PLAN_NOT_AVAILABLE', `Unknown plan '${input.plan}'`, { plan: input.plan });
      if (plan.id === 'free')
        throw new AppError('PLAN_NOT_AVAILABLE', 'The free plan needs no subscription: cancel it instead', { plan: plan.id });
      if (!plan.self_serve) throw new AppError('PLAN_NOT_AVAILABLE', `The ${plan.id} plan is arranged with sales`, { plan: plan.id });
      const price = priceFor(deps.env, plan.id, interval);
      const held = await heldSubscription(client, actor.tenantId);
      if (held.plan === plan.id && held.interval === interval) {
        throw new AppError('CONFLICT', `The tenant is already on the ${plan.id} plan, billed every ${interval}`, {
          plan: plan.id,
          interval,
        });
      }
      const conflicts = (
        await client.query<{ resource: string; usage: string; max_value: string }>(
          'select resource, usage, max_value from public.plan_change_conflicts($1, $2)',
          [actor.tenantId, plan.id],
        )
      ).rows;
      if (conflicts.length) {
        const limits = conflicts.map((c) => ({ limit: c.resource, usage: Number(c.usage), max: Number(c.max_value) }));
        throw new AppError(
          'CONFLICT',
          `Current usage exceeds the ${plan.id} plan: ${limits.map((l) => `${l.limit} ${l.usage}/${l.max}`).join(', ')}`,
          {
            plan: plan.id,
            limits,
          },
        );
      }
      return { held, price };
    },
    actorInfo(actor),
  );
  const current = await callStripe(deps.log, 'subscriptions.retrieve', () => stripe.subscriptions.retrieve(held.id));
  const itemId = current.items.data[0]?.id;
  const updated = await callStripe(deps.log, 'subscriptions.update', () =>
    stripe.subscriptions.update(
      held.id,
      {
        ...(itemId ? { items: [{ id: itemId, price }] } : { items: [{ price }] }),
        proration_behavior: 'create_prorations',
        metadata: { plan: input.plan, interval },
      },
      { idempotencyKey: `tenant-${actor.tenantId}-change-${held.id}-${input.plan}-${interval}-${held.plan}-${held.interval ?? ''}` },
    ),
  );
  await applySubscriptionRead({ ...deps, stripe }, updated, actorInfo(actor));
  deps.log.info({ tenantId: actor.tenantId, userId: actor.userId, from: held.plan, to: input.plan, interval }, 'plan changed');
  return getBilling(deps, actor);
}

/** Cancels at the end of the paid period (default: the tenant keeps its plan until then) or at once. */
export async function cancelSubscription(deps: BillingDeps, actor: MemberActor, rawInput: CancelInput): Promise<BillingSummary> {
  assertBillingAdmin(actor);
  const stripe = requireStripe(deps);
  const input = parseBody(cancelInputSchema, rawInput, 'cancel input');
  const held = await readHeld(deps, actor);
  if (input.atPeriodEnd && held.cancelAtPeriodEnd) {
    throw new AppError('CONFLICT', 'The subscription is already set to end with its period; resume it to keep it');
  }
  const result = input.atPeriodEnd
    ? await callStripe(deps.log, 'subscriptions.update', () => stripe.subscriptions.update(held.id, { cancel_at_period_end: true }))
    : await callStripe(deps.log, 'subscriptions.cancel', () =>
        stripe.subscriptions.cancel(held.id, {}, { idempotencyKey: `tenant-${actor.tenantId}-cancel-${held.id}` }),
      );
  await applySubscriptionRead({ ...deps, stripe }, result, actorInfo(actor));
  deps.log.info({ tenantId: actor.tenantId, userId: actor.userId, atPeriodEnd: input.atPeriodEnd }, 'subscription cancelled');
  return getBilling(deps, actor);
}

/** Undoes a cancellation set for the end of the period. */
export async function resumeSubscription(deps: BillingDeps, actor: MemberActor): Promise<BillingSummary> {
  assertBillingAdmin(actor);
  const stripe = requireStripe(deps);
  const held = await readHeld(deps, actor);
  if (!held.cancelAtPeriodEnd) throw new AppError('CONFLICT', 'The subscription is not set to cancel; there is nothing to resume');
  const result = await callStripe(deps.log, 'subscriptions.update', () =>
    stripe.subscriptions.update(held.id, { cancel_at_period_end: false }),
  );
  await applySubscriptionRead({ ...deps, stripe }, result, actorInfo(actor));
  deps.log.info({ tenantId: actor.tenantId, userId: actor.userId }, 'subscription resumed');
  return getBilling(deps, actor);
}

const isMissing = (err: unknown): boolean => err instanceof Stripe.errors.StripeError && err.statusCode === 404;

/**
 * A closed tenant's subscription is cancelled at Stripe (queued by the database
 * when the tenant is cancelled). Safe to repeat: an ended or unknown subscription is left alone.
 */
export async function closeSubscription(
  deps: BillingDeps,
  tenantId: string,
  subscriptionId: string,
): Promise<'cancelled' | 'already-ended'> {
  const stripe = requireStripe(deps);
  let current: Stripe.Subscription;
  try {
    current = await stripe.subscriptions.retrieve(subscriptionId);
  } catch (err) {
    if (isMissing(err)) return 'already-ended';
    throw err;
  }
  if (current.status === 'canceled' || current.status === 'incomplete_expired') return 'already-ended';
  const cancelled = await stripe.subscriptions.cancel(subscriptionId, {}, { idempotencyKey: `tenant-${tenantId}-close-${subscriptionId}` });
  await applySubscriptionRead({ ...deps, stripe }, cancelled, { kind: 'system' });
  deps.log.info({ tenantId, subscriptionId }, 'subscription of a closed tenant cancelled');
  return 'cancelled';
}

/** A hard-deleted tenant's Stripe customer is deleted (Stripe ends its subscriptions with it). Safe to repeat. */
export async function deleteCustomer(deps: BillingDeps, tenantId: string, customerId: string): Promise<'deleted' | 'already-deleted'> {
  const stripe = requireStripe(deps);
  try {
    await stripe.customers.del(customerId);
  } catch (err) {
    if (isMissing(err)) return 'already-deleted';
    throw err;
  }
  deps.log.info({ tenantId, customerId }, 'stripe customer of a deleted tenant deleted');
  return 'deleted';
}
