// Billing's Hasura actions (registered in hasura/actions.ts): owners and admins of the session's tenant.
import { z } from 'zod';
import { defineAction, outputOf, requireSessionMember, withoutNulls, type HasuraAction } from '../hasura/action.ts';
import type {
  BillingInfo,
  CheckoutSessionOutput,
  MutationCancelSubscriptionArgs,
  MutationChangePlanArgs,
  MutationCreateCheckoutSessionArgs,
  MutationCreatePortalSessionArgs,
  PortalSessionOutput,
} from '../hasura/generated/actions.ts';
import { cancelInputSchema, changePlanInputSchema, checkoutInputSchema, portalInputSchema } from './schemas.ts';
import { createCheckoutSession, createPortalSession } from './service.ts';
import { cancelSubscription, changePlan, resumeSubscription } from './subscription.ts';

const checkoutArgs = z.preprocess(withoutNulls, checkoutInputSchema) satisfies z.ZodType<MutationCreateCheckoutSessionArgs, unknown>;
const portalArgs = portalInputSchema satisfies z.ZodType<MutationCreatePortalSessionArgs, unknown>;
const changePlanArgs = z.preprocess(withoutNulls, changePlanInputSchema) satisfies z.ZodType<MutationChangePlanArgs, unknown>;
const cancelArgs = z.preprocess(withoutNulls, cancelInputSchema) satisfies z.ZodType<MutationCancelSubscriptionArgs, unknown>;

const billingInfo = outputOf<BillingInfo>({
  plan: true,
  interval: true,
  subscriptionStatus: true,
  currentPeriodEnd: true,
  cancelAtPeriodEnd: true,
  trialEndsAt: true,
  features: true,
});

export const BILLING_ACTIONS: readonly HasuraAction[] = [
  defineAction('createCheckoutSession', checkoutArgs, async (ctx, args, session) => {
    const member = await requireSessionMember(ctx, session, 'admin');
    return (await createCheckoutSession(ctx, member, args)) satisfies CheckoutSessionOutput;
  }),
  defineAction('createPortalSession', portalArgs, async (ctx, args, session) => {
    const member = await requireSessionMember(ctx, session, 'admin');
    return (await createPortalSession(ctx, member, args)) satisfies PortalSessionOutput;
  }),
  defineAction('changePlan', changePlanArgs, async (ctx, args, session) => {
    const member = await requireSessionMember(ctx, session, 'admin');
    return billingInfo(await changePlan(ctx, member, args)) satisfies BillingInfo;
  }),
  defineAction('cancelSubscription', cancelArgs, async (ctx, args, session) => {
    const member = await requireSessionMember(ctx, session, 'admin');
    return billingInfo(await cancelSubscription(ctx, member, args)) satisfies BillingInfo;
  }),
  // No arguments: whatever Hasura sends is ignored.
  defineAction('resumeSubscription', z.unknown(), async (ctx, _args, session) => {
    const member = await requireSessionMember(ctx, session, 'admin');
    return billingInfo(await resumeSubscription(ctx, member)) satisfies BillingInfo;
  }),
];
