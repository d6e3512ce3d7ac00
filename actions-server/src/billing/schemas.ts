// Edge validation: what callers send to checkout/portal, and the parts of Stripe
// objects the webhook relies on. Stripe events are signed, but their shape still
// depends on the API version of the webhook endpoint, so it is checked too.
import { z } from 'zod';
import { planIdSchema } from '../tenants/schemas.ts';

// "monthly"/"yearly" is the documented spelling; Stripe's is "month"/"year".
export const intervalSchema = z
  .enum(['month', 'year', 'monthly', 'yearly'])
  .transform((v) => (v === 'monthly' ? 'month' : v === 'yearly' ? 'year' : v));

const redirectUrlSchema = z.string().trim().min(1).max(2048);

export const checkoutInputSchema = z
  .object({
    plan: planIdSchema,
    interval: intervalSchema.default('month'),
    successUrl: redirectUrlSchema,
    cancelUrl: redirectUrlSchema,
  })
  .strict();
export type CheckoutInput = z.input<typeof checkoutInputSchema>;

export const portalInputSchema = z.object({ returnUrl: redirectUrlSchema }).strict();
export type PortalInput = z.input<typeof portalInputSchema>;

// --- Stripe objects -------------------------------------------------------------------------

/** An expandable reference: an id, or the object carrying it. */
const ref = z.union([z.string(), z.object({ id: z.string() })]).transform((v) => (typeof v === 'string' ? v : v.id));

const metadata = z
  .record(z.string(), z.string())
  .nullish()
  .transform((v) => v ?? {});

export const SUBSCRIPTION_STATUSES = [
  'incomplete',
  'incomplete_expired',
  'trialing',
  'active',
  'past_due',
  'canceled',
  'unpaid',
  'paused',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

// Loose: the event is stored whole (previous_attributes, request, ...), not just the fields read here.
export const stripeEventSchema = z.looseObject({
  id: z.string().min(1),
  type: z.string().min(1),
  created: z.number().int(),
  api_version: z.string().nullish(),
  livemode: z.boolean(),
  data: z.looseObject({ object: z.record(z.string(), z.unknown()) }),
});
export type StripeEventEnvelope = z.infer<typeof stripeEventSchema>;

export const subscriptionSchema = z.object({
  id: z.string(),
  customer: ref,
  status: z.enum(SUBSCRIPTION_STATUSES),
  metadata,
  cancel_at_period_end: z.boolean().default(false),
  trial_end: z.number().nullish(),
  // Endpoints on API versions before 2025-03-31 carry the period here, newer ones on the items.
  current_period_start: z.number().nullish(),
  current_period_end: z.number().nullish(),
  items: z.object({
    data: z.array(
      z.object({
        price: z.object({ id: z.string(), recurring: z.object({ interval: z.string() }).nullish() }).nullish(),
        current_period_start: z.number().nullish(),
        current_period_end: z.number().nullish(),
      }),
    ),
  }),
});
export type StripeSubscription = z.infer<typeof subscriptionSchema>;

export const invoiceSchema = z.object({
  id: z.string(),
  customer: ref.nullish(),
  // Before API version 2025-03-31 the subscription was named here; now under parent.
  subscription: ref.nullish(),
  parent: z
    .object({
      subscription_details: z.object({ subscription: ref, metadata: metadata }).nullish(),
    })
    .nullish(),
  status_transitions: z.object({ paid_at: z.number().nullish() }).nullish(),
});
export type StripeInvoice = z.infer<typeof invoiceSchema>;

export const checkoutSessionSchema = z.object({
  id: z.string(),
  mode: z.string(),
  customer: ref.nullish(),
  subscription: ref.nullish(),
  client_reference_id: z.string().nullish(),
  metadata,
});
export type StripeCheckoutSession = z.infer<typeof checkoutSessionSchema>;

// --- subscription management ------------------------------------------------------------------

export const changePlanInputSchema = z
  .object({
    plan: planIdSchema,
    interval: intervalSchema.default('month'),
  })
  .strict();
export type ChangePlanInput = z.input<typeof changePlanInputSchema>;

export const cancelInputSchema = z.object({ atPeriodEnd: z.boolean().default(true) }).strict();
export type CancelInput = z.input<typeof cancelInputSchema>;

export const resumeInputSchema = z.object({}).strict();
