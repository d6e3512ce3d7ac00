// REST surface of billing (documented routes): thin adapters over the services. The
// webhook is on any host (Stripe calls the platform address) and reads the raw
// body, which its signature covers.
import express, { Router, type Request, type RequestHandler } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody } from '../http/handlers.ts';
import { assertMember, authenticate, requireTenantHost } from '../http/middleware.ts';
import type { TenantRole } from '../auth/tokens.ts';
import { cancelInputSchema, changePlanInputSchema, checkoutInputSchema, portalInputSchema, resumeInputSchema } from './schemas.ts';
import { cancelSubscription, changePlan, resumeSubscription } from './subscription.ts';
import { createCheckoutSession, createPortalSession, getBilling, type BillingActor } from './service.ts';
import { requireStripe } from './stripe-client.ts';
import { receiveWebhook } from './webhooks.ts';

export const WEBHOOK_PATH = '/api/billing/webhook';

export function billingRoutes(ctx: AppContext): Router {
  const router = Router();
  // Reachable while the tenant is suspended (owners only, see assertMember), so it can pay its way back.
  const auth = authenticate(ctx, { allowSuspended: true });
  const tenantHost = requireTenantHost({ allowSuspended: true });
  const billingEnabled: RequestHandler = (_req, _res, next) => {
    requireStripe(ctx);
    next();
  };

  /**
   * The caller, as a member of the tenant named by the host with at least `min`.
   * Who may ask comes before whether billing is configured: a member learns 403, not 503.
   */
  const actor = async (req: Request, min: TenantRole, needsStripe = true): Promise<BillingActor> => {
    const tenantId = req.tenant!.id;
    const role = await assertMember(ctx, req, tenantId, min, { billing: true });
    if (needsStripe) requireStripe(ctx);
    return { tenantId, userId: req.auth!.userId, role };
  };

  router.post(WEBHOOK_PATH, billingEnabled, express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const receipt = await receiveWebhook(ctx, req.body, req.get('stripe-signature'));
    // 202: stored, the job runner applies it; 200: stored before.
    res.status(receipt.status === 'stored' ? 202 : 200).json({ received: true, ...receipt });
  });

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
