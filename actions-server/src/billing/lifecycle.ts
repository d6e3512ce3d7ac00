// The subscription lifecycle on the tenant, as pure functions of the stored row
// and a subscription state: which state wins when events arrive late or out of
// order, and what the tenant becomes (plan, status, payment standing).
//   trialing -> tenant 'trial'; active -> 'active';
//   past_due/unpaid -> grace period (past_due_since, grace_ends_at), then the
//   grace job suspends; back in good standing -> a billing suspension is lifted;
//   canceled/expired/paused -> plan free, tenant stays active.
import type { TenantStatus } from '../tenants/records.ts';
import type { BillingInterval } from './prices.ts';
import type { SubscriptionStatus } from './schemas.ts';

/** The tenant columns a subscription state sets (nextTenantState). */
export interface TenantUpdate {
  status: TenantStatus;
  suspended_at: Date | null;
  plan: string;
  trial_ends_at: Date | null;
  stripe_customer_id: string | null;
  stripe_subscription_id: string;
  subscription_status: SubscriptionStatus;
  billing_interval: BillingInterval | null;
  current_period_start: Date | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  past_due_since: Date | null;
  grace_ends_at: Date | null;
  subscription_state_at: Date;
}

type NoSubscriptionYet = 'stripe_subscription_id' | 'subscription_status' | 'subscription_state_at';

/** The tenant columns billing reads and writes: those columns before any subscription is known. */
export interface BillingRow extends Omit<TenantUpdate, NoSubscriptionYet> {
  id: string;
  stripe_subscription_id: string | null;
  subscription_status: SubscriptionStatus | null;
  subscription_state_at: Date | null;
  billing_suspended: boolean;
}

export const BILLING_COLUMNS = `id, status, plan, trial_ends_at, suspended_at, stripe_customer_id,
  stripe_subscription_id, subscription_status, billing_interval, current_period_start, current_period_end,
  cancel_at_period_end, past_due_since, grace_ends_at, billing_suspended, subscription_state_at`;

/** A subscription as billing understands it. */
export interface SubscriptionState {
  id: string;
  customerId: string | null;
  status: SubscriptionStatus;
  /** null: the price is not one we sell (nor named in metadata); the tenant keeps its plan. */
  plan: string | null;
  interval: BillingInterval | null;
  periodStart: Date | null;
  periodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  trialEnd: Date | null;
}

/**
 * Where a state comes from: an event's own object (as of event.created), or a
 * fresh read from Stripe (at least as new as the event that prompted it).
 */
export type StateSource = 'event' | 'stripe';

export type Decision = 'apply' | 'stale' | 'tie' | 'other-subscription';

type Standing = 'behind' | 'clear' | 'pending';

function standingOf(status: SubscriptionStatus): Standing {
  switch (status) {
    case 'past_due':
    case 'unpaid':
      return 'behind';
    case 'trialing':
    case 'active':
    case 'canceled':
    case 'incomplete_expired':
    case 'paused':
      return 'clear';
    case 'incomplete':
      return 'pending';
    default: {
      const never: never = status;
      throw new Error(`unknown subscription status ${String(never)}`);
    }
  }
}

/** A subscription that may still bill (an ended one never comes back). */
export function isLive(status: SubscriptionStatus | null): boolean {
  return status !== null && status !== 'canceled' && status !== 'incomplete_expired';
}

function sameInstant(a: Date | null, b: Date | null): boolean {
  return (a?.getTime() ?? null) === (b?.getTime() ?? null);
}

function sameState(row: BillingRow, s: SubscriptionState): boolean {
  return (
    row.stripe_subscription_id === s.id &&
    row.subscription_status === s.status &&
    (s.plan === null || s.plan === row.plan) &&
    row.billing_interval === s.interval &&
    sameInstant(row.current_period_start, s.periodStart) &&
    sameInstant(row.current_period_end, s.periodEnd) &&
    row.cancel_at_period_end === s.cancelAtPeriodEnd
  );
}

/**
 * Whether `state`, as of `at` (Stripe's clock), may replace what the tenant holds.
 * Older than the stored state: stale. The same second: the order of the two is
 * unknown, so the caller re-reads the subscription from Stripe ('tie') unless the
 * state is already a fresh read or changes nothing.
 */
export function decide(row: BillingRow, state: SubscriptionState, at: Date, source: StateSource): Decision {
  if (row.stripe_subscription_id !== null && row.stripe_subscription_id !== state.id) {
    // One subscription per tenant: a new one takes over only once the old one has ended
    // (checkout refuses a second while one is live); events of the old one are history.
    return isLive(state.status) && !isLive(row.subscription_status) ? 'apply' : 'other-subscription';
  }
  const last = row.subscription_state_at;
  if (last === null || at.getTime() > last.getTime()) return 'apply';
  if (at.getTime() < last.getTime()) return 'stale';
  return source === 'stripe' || sameState(row, state) ? 'apply' : 'tie';
}

/**
 * What an invoice event says about the tenant's current subscription: a paid
 * invoice ends a past-due period, a failed one starts it. Undefined when the
 * tenant holds no subscription to apply it to (the caller re-reads it instead).
 */
export function impliedByInvoice(row: BillingRow, kind: 'paid' | 'failed'): SubscriptionState | undefined {
  if (row.stripe_subscription_id === null || row.subscription_status === null) return undefined;
  let status = row.subscription_status;
  if (kind === 'paid' && (status === 'past_due' || status === 'unpaid' || status === 'incomplete')) status = 'active';
  if (kind === 'failed' && (status === 'active' || status === 'trialing')) status = 'past_due';
  return {
    id: row.stripe_subscription_id,
    customerId: row.stripe_customer_id,
    status,
    plan: null,
    interval: row.billing_interval,
    periodStart: row.current_period_start,
    periodEnd: row.current_period_end,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    trialEnd: row.trial_ends_at,
  };
}

const DAY_MS = 86_400_000;

/** The tenant after applying `state` as of `at` (a state `decide` accepted). */
export function nextTenantState(row: BillingRow, state: SubscriptionState, at: Date, graceDays: number): TenantUpdate {
  const standing = standingOf(state.status);

  let plan = row.plan;
  let target: TenantStatus = row.status;
  switch (state.status) {
    case 'trialing':
      plan = state.plan ?? row.plan;
      target = 'trial';
      break;
    case 'active':
      plan = state.plan ?? row.plan;
      target = 'active';
      break;
    case 'past_due':
    case 'unpaid':
      // Still entitled during the grace period; a trial that could not be paid is over.
      plan = state.plan ?? row.plan;
      target = row.status === 'trial' ? 'active' : row.status;
      break;
    case 'canceled':
    case 'incomplete_expired':
    case 'paused':
      // Downgrade rather than lock out: the free plan's limits apply from now on.
      plan = 'free';
      target = 'active';
      break;
    case 'incomplete':
      break;
    default: {
      const never: never = state.status;
      throw new Error(`unknown subscription status ${String(never)}`);
    }
  }

  // Only a servable tenant follows its subscription; a billing suspension is lifted
  // once the tenant is back in good standing; an admin's suspension and a closed
  // (cancelled/archived) tenant are never changed by Stripe.
  let status = row.status;
  let suspendedAt = row.suspended_at;
  if (row.status === 'trial' || row.status === 'active') {
    status = target;
  } else if (row.status === 'suspended' && row.billing_suspended && standing === 'clear') {
    status = target;
    suspendedAt = null;
  }

  let pastDueSince = row.past_due_since;
  let graceEndsAt = row.grace_ends_at;
  if (standing === 'behind') {
    // The grace period runs from the first failure Stripe reported, not from when we heard of it.
    pastDueSince = row.past_due_since ?? at;
    graceEndsAt = row.grace_ends_at ?? new Date(pastDueSince.getTime() + graceDays * DAY_MS);
  } else if (standing === 'clear') {
    pastDueSince = null;
    graceEndsAt = null;
  }

  return {
    status,
    suspended_at: suspendedAt,
    plan,
    // Stripe keeps trial_end after the trial ends, so every state of one subscription agrees on it.
    trial_ends_at: state.trialEnd,
    stripe_customer_id: row.stripe_customer_id ?? state.customerId,
    stripe_subscription_id: state.id,
    subscription_status: state.status,
    billing_interval: state.interval,
    current_period_start: state.periodStart,
    current_period_end: state.periodEnd,
    cancel_at_period_end: state.cancelAtPeriodEnd,
    past_due_since: pastDueSince,
    grace_ends_at: graceEndsAt,
    subscription_state_at: at,
  };
}
