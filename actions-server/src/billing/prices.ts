// Plans that are sold through Stripe, and the variables naming their prices. The
// plans table says what a plan contains; which Stripe price bills it is
// deployment configuration (test and live mode have different price ids).
import type { Env } from '../core/config.ts';
import { AppError } from '../core/errors.ts';

export const BILLING_INTERVALS = ['month', 'year'] as const;
export type BillingInterval = (typeof BILLING_INTERVALS)[number];

type PriceVariable =
  'STRIPE_PRICE_PRO_MONTHLY' | 'STRIPE_PRICE_PRO_YEARLY' | 'STRIPE_PRICE_ENTERPRISE_MONTHLY' | 'STRIPE_PRICE_ENTERPRISE_YEARLY';

const PRICE_VARIABLES: Record<string, Record<BillingInterval, PriceVariable>> = {
  pro: { month: 'STRIPE_PRICE_PRO_MONTHLY', year: 'STRIPE_PRICE_PRO_YEARLY' },
  enterprise: { month: 'STRIPE_PRICE_ENTERPRISE_MONTHLY', year: 'STRIPE_PRICE_ENTERPRISE_YEARLY' },
};

export function isBillingInterval(value: string | null | undefined): value is BillingInterval {
  return value === 'month' || value === 'year';
}

/** The Stripe price for a plan and interval; a plan with no price variable is not sold through checkout. */
export function priceFor(env: Env, plan: string, interval: BillingInterval): string {
  const variable = PRICE_VARIABLES[plan]?.[interval];
  if (!variable) throw new AppError('PLAN_NOT_AVAILABLE', `The ${plan} plan is not sold through checkout`);
  const price = env[variable];
  // For the caller this plan and interval cannot be bought (4xx); the message tells the operator what to set.
  if (!price) {
    throw new AppError('PLAN_NOT_AVAILABLE', `The ${plan} plan is not on sale ${interval}ly yet: ${variable} is not configured`, {
      variable,
    });
  }
  return price;
}

/** The plan and interval a configured price bills, if it is one of ours. */
export function planForPrice(env: Env, priceId: string): { plan: string; interval: BillingInterval } | undefined {
  for (const [plan, byInterval] of Object.entries(PRICE_VARIABLES)) {
    for (const interval of BILLING_INTERVALS) {
      if (env[byInterval[interval]] === priceId) return { plan, interval };
    }
  }
  return undefined;
}
