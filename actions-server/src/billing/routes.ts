// REST surface of billing (documented routes): thin adapters over the services. The
// webhook is on any host (Stripe calls the platform address) and reads the raw
// body, which its signature covers.
import express, { Router, type Request, type RequestHandler } from 'express';
import { memberActor } from '../http/actor.ts';
import type { AppContext } from '../core/context.ts';
import { parseBody } from '../http/handlers.ts';
import { authenticate, requireTenantHost } from '../http/middleware.ts';
import type { TenantRole } from '../auth/tokens.ts';
import {
  cancelInputSchema,
  changePlanInputSchema,
  checkoutInputSchema,
  portalInputSchema,
  resumeInputSchema,
  stripeEventSchema,
  SUBSCRIPTION_STATUSES,
} from './schemas.ts';
import { z } from 'zod';
import type { ApiDocs } from '../http/openapi.ts';
import { BILLING_INTERVALS } from './prices.ts';
import { cancelSubscription, changePlan, resumeSubscription } from './subscription.ts';
import { createCheckoutSession, createPortalSession, getBilling } from './service.ts';
import type { MemberActor } from '../core/actor.ts';
import { requireStripe } from './stripe-client.ts';
import { receiveWebhook } from './webhooks.ts';

export const WEBHOOK_PATH = '/api/billing/webhook';

/** POST WEBHOOK_PATH, on the raw body; http/app.ts also mounts it ahead of the generic chain. */
export function stripeWebhookHandlers(ctx: AppContext): RequestHandler[] {
  return [
    (_req, _res, next) => {
      requireStripe(ctx);
      next();
    },
    express.raw({ type: () => true, limit: '1mb' }),
    async (req, res) => {
      const receipt = await receiveWebhook(ctx, req.body, req.get('stripe-signature'));
      // 202: stored, the job runner applies it; 200: stored before.
      res.status(receipt.status === 'stored' ? 202 : 200).json({ received: true, ...receipt });
    },
  ];
}

export function billingRoutes(ctx: AppContext): Router {
  const router = Router();
  // Reachable while the tenant is suspended (owners only, see assertMember), so it can pay its way back.
  const auth = authenticate(ctx, { allowSuspended: true });
  const tenantHost = requireTenantHost({ allowSuspended: true });

  /**
   * The caller, as a member of the tenant named by the host with at least `min`.
   * Who may ask comes before whether billing is configured: a member learns 403, not 503.
   */
  const actor = async (req: Request, min: TenantRole, needsStripe = true): Promise<MemberActor> => {
    const caller = await memberActor(ctx, req, req.tenant!.id, min, { billing: true });
    if (needsStripe) requireStripe(ctx);
    return caller;
  };

  router.post(WEBHOOK_PATH, ...stripeWebhookHandlers(ctx));

  // Answers without Stripe too (plan, limits, trial), and says whether billing is enabled.
  router.get('/api/billing', tenantHost, auth, async (req, res) => {
    const billing = await getBilling(ctx, await actor(req, 'member', false));
    res.json({ billing: { ...billing, enabled: ctx.stripe !== undefined } });
  });

  router.post('/api/billing/checkout', tenantHost, auth, async (req, res) => {
    const caller = await actor(req, 'admin');
    res.json(await createCheckoutSession(ctx, caller, parseBody(checkoutInputSchema, req.body)));
  });

  router.post('/api/billing/portal', tenantHost, auth, async (req, res) => {
    const caller = await actor(req, 'admin');
    res.json(await createPortalSession(ctx, caller, parseBody(portalInputSchema, req.body)));
  });

  router.post('/api/billing/change-plan', tenantHost, auth, async (req, res) => {
    const caller = await actor(req, 'admin');
    res.json({ billing: await changePlan(ctx, caller, parseBody(changePlanInputSchema, req.body)) });
  });

  router.post('/api/billing/cancel', tenantHost, auth, async (req, res) => {
    const caller = await actor(req, 'admin');
    res.json({ billing: await cancelSubscription(ctx, caller, parseBody(cancelInputSchema, req.body ?? {})) });
  });

  router.post('/api/billing/resume', tenantHost, auth, async (req, res) => {
    const caller = await actor(req, 'admin');
    parseBody(resumeInputSchema, req.body ?? {});
    res.json({ billing: await resumeSubscription(ctx, caller) });
  });

  return router;
}

const isoTime = z.iso.datetime({ offset: true });

const billingSchema = z
  .object({
    plan: z.string(),
    interval: z.enum(BILLING_INTERVALS).nullable(),
    subscriptionStatus: z.enum(SUBSCRIPTION_STATUSES).nullable(),
    currentPeriodStart: isoTime.nullable(),
    currentPeriodEnd: isoTime.nullable(),
    cancelAtPeriodEnd: z.boolean(),
    trialEndsAt: isoTime.nullable(),
    pastDue: z.boolean(),
    graceEndsAt: isoTime.nullable(),
    lastPaymentAt: isoTime.nullable(),
    hasBillingAccount: z.boolean(),
    features: z.record(z.string(), z.boolean()),
    notices: z.array(
      z.object({ kind: z.string(), message: z.string(), data: z.record(z.string(), z.unknown()), createdAt: isoTime }).strict(),
    ),
  })
  .strict()
  .meta({ id: 'Billing' });

export function describeBilling(api: ApiDocs): void {
  api.area(
    'Billing',
    "The host's tenant's plan and Stripe subscription. Reachable while the tenant is suspended (owners only), so it can pay its way back; 503 without STRIPE_SECRET_KEY.",
    (a) => {
      const billingAnswer = z.object({ billing: billingSchema }).strict();
      const manage = { auth: 'caller', tenantHost: true } as const;
      a.route({
        method: 'post',
        path: WEBHOOK_PATH,
        summary: "Stripe's signed events: acknowledged once stored, applied once by the job runner",
        description:
          'The body is checked against the Stripe-Signature header, byte for byte. 202: stored now (the job runner applies it); ' +
          '200: stored before (a redelivery, nothing more happens).',
        auth: 'anonymous',
        body: stripeEventSchema,
        status: [202, 200],
        response: z.object({ received: z.literal(true), status: z.enum(['stored', 'duplicate']), eventId: z.string() }).strict(),
      });
      a.route({
        method: 'get',
        path: '/api/billing',
        summary: 'Plan, subscription, past-due state, features, notices; and whether billing is enabled (members)',
        ...manage,
        response: z.object({ billing: billingSchema.extend({ enabled: z.boolean() }) }).strict(),
      });
      a.route({
        method: 'post',
        path: '/api/billing/checkout',
        summary: "A Stripe Checkout session (owners, admins); redirect URLs must be the tenant's own hosts",
        ...manage,
        body: checkoutInputSchema,
        response: z.object({ sessionId: z.string(), url: z.string() }).strict(),
        errors: [400, 409, 502],
      });
      a.route({
        method: 'post',
        path: '/api/billing/portal',
        summary: 'A Stripe customer portal session (owners, admins)',
        ...manage,
        body: portalInputSchema,
        response: z.object({ url: z.string() }).strict(),
        errors: [409, 502],
      });
      a.route({
        method: 'post',
        path: '/api/billing/change-plan',
        summary: 'Move the subscription to another plan, prorated (owners, admins)',
        description: '409: the current plan, no subscription, or a downgrade the usage does not fit (details.limits).',
        ...manage,
        body: changePlanInputSchema,
        response: billingAnswer,
        errors: [409, 502],
      });
      a.route({
        method: 'post',
        path: '/api/billing/cancel',
        summary: 'Cancel at the period end (default) or at once (owners, admins)',
        ...manage,
        body: cancelInputSchema,
        response: billingAnswer,
        errors: [409, 502],
      });
      a.route({
        method: 'post',
        path: '/api/billing/resume',
        summary: 'Keep a subscription that was set to end with its period (owners, admins)',
        ...manage,
        body: resumeInputSchema,
        response: billingAnswer,
        errors: [409, 502],
      });
    },
  );
}
