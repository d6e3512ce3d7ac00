// Stripe objects and signed webhook events for tests, built from Stripe's own example objects
// (tests/support/stripe/fixtures3.json) so their shape is the one the pinned API version sends.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Stripe from 'stripe';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** The API version the installed SDK pins; events and objects are rendered in it. */
export const STRIPE_API_VERSION: string = Stripe.API_VERSION;

const FIXTURES_URL = new URL('./stripe/fixtures3.json', import.meta.url);
let fixtures: JsonObject | undefined;

function asObject(value: JsonValue | undefined, what: string): JsonObject {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`Stripe fixture: ${what} is not an object`);
  }
  return value;
}

/** A fresh deep copy of `resources[name]` from fixtures3.json (e.g. "subscription", "checkout.session"). */
export function stripeFixture(name: string): JsonObject {
  fixtures ??= asObject(JSON.parse(readFileSync(FIXTURES_URL, 'utf8')) as JsonValue, 'fixtures3.json');
  return structuredClone(asObject(asObject(fixtures['resources'], 'resources')[name], `resources.${name}`));
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A Stripe-looking id such as `cus_Xy12...`; random so tests never collide. */
export function stripeId(prefix: string): string {
  const bytes = randomBytes(24);
  let suffix = '';
  for (const b of bytes) suffix += ID_ALPHABET[b % ID_ALPHABET.length];
  return `${prefix}_${suffix}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

const DAY = 86_400;

function firstOf(list: JsonObject, what: string): JsonObject {
  const data = list['data'];
  if (!Array.isArray(data)) throw new Error(`Stripe fixture: ${what}.data is not a list`);
  return asObject(data[0], `${what}.data[0]`);
}

// Fixture-built values are plain JSON; this is the one place they are viewed through the SDK's types.
function typed<T>(value: JsonObject): T {
  return value as unknown as T;
}

function withOverrides(base: JsonObject, overrides: object | undefined): JsonObject {
  return overrides ? { ...base, ...(overrides as JsonObject) } : base;
}

export interface SubscriptionObjectOptions {
  id?: string;
  customer?: string;
  status?: Stripe.Subscription.Status;
  priceId?: string;
  metadata?: Record<string, string>;
  /** On items.data[0] (2026 shape); default `created`. */
  currentPeriodStart?: number;
  /** On items.data[0] (2026 shape); default start + 30 days. */
  currentPeriodEnd?: number;
  cancelAtPeriodEnd?: boolean;
  created?: number;
  /** Shallow top-level overrides applied last (e.g. trial_end, canceled_at). */
  overrides?: Partial<Stripe.Subscription>;
}

export function subscriptionObject(opts: SubscriptionObjectOptions = {}): Stripe.Subscription {
  return typed<Stripe.Subscription>(subscriptionJson(opts));
}

/** Same as subscriptionObject, as plain JSON (for the API double's store). */
export function subscriptionJson(opts: SubscriptionObjectOptions = {}): JsonObject {
  const sub = stripeFixture('subscription');
  const id = opts.id ?? stripeId('sub');
  const created = opts.created ?? nowSeconds();
  const start = opts.currentPeriodStart ?? created;
  const end = opts.currentPeriodEnd ?? start + 30 * DAY;
  const status = opts.status ?? 'active';
  const cancelAtPeriodEnd = opts.cancelAtPeriodEnd ?? false;
  const ended = status === 'canceled' || status === 'incomplete_expired';

  const items = asObject(sub['items'], 'subscription.items');
  const item = firstOf(items, 'subscription.items');
  item['id'] = stripeId('si');
  item['subscription'] = id;
  item['created'] = created;
  item['current_period_start'] = start;
  item['current_period_end'] = end;
  if (opts.priceId !== undefined) {
    asObject(item['price'], 'subscription item price')['id'] = opts.priceId;
    asObject(item['plan'], 'subscription item plan')['id'] = opts.priceId;
  }
  items['url'] = `/v1/subscription_items?subscription=${id}`;

  // The example carries cancellation/trial timestamps and a pending update that would read as
  // "already canceling"; a fresh subscription has none of them unless its status says so.
  Object.assign(sub, {
    id,
    customer: opts.customer ?? sub['customer'] ?? null,
    status,
    metadata: opts.metadata ?? {},
    created,
    start_date: created,
    billing_cycle_anchor: start,
    cancel_at_period_end: cancelAtPeriodEnd,
    cancel_at: cancelAtPeriodEnd ? end : null,
    canceled_at: ended ? end : null,
    ended_at: ended ? end : null,
    trial_start: status === 'trialing' ? start : null,
    trial_end: status === 'trialing' ? end : null,
    pending_update: null,
    pause_collection: null,
    latest_invoice: null,
  } satisfies JsonObject);
  return withOverrides(sub, opts.overrides);
}

export interface InvoiceObjectOptions {
  id?: string;
  customer?: string;
  /** Goes to parent.subscription_details.subscription (2026 shape); null/absent = not a subscription invoice. */
  subscriptionId?: string | null;
  /** Snapshot of the subscription's metadata at invoicing time (parent.subscription_details.metadata). */
  subscriptionMetadata?: Record<string, string>;
  status?: Stripe.Invoice.Status;
  created?: number;
  /** Default: amount_due when paid, else 0. */
  amountPaid?: number;
  overrides?: Partial<Stripe.Invoice>;
}

export function invoiceObject(opts: InvoiceObjectOptions = {}): Stripe.Invoice {
  const inv = stripeFixture('invoice');
  const id = opts.id ?? stripeId('in');
  const created = opts.created ?? nowSeconds();
  const status = opts.status ?? 'paid';
  const subscriptionId = opts.subscriptionId ?? null;
  const amountDue = typeof inv['amount_due'] === 'number' ? inv['amount_due'] : 0;
  const amountPaid = opts.amountPaid ?? (status === 'paid' ? amountDue : 0);

  const lines = asObject(inv['lines'], 'invoice.lines');
  const line = firstOf(lines, 'invoice.lines');
  line['id'] = stripeId('il');
  line['invoice'] = id;
  line['period'] = { start: created, end: created };
  line['parent'] = subscriptionId
    ? {
        type: 'subscription_item_details',
        invoice_item_details: null,
        subscription_item_details: {
          invoice_item: null,
          proration: false,
          proration_details: { credited_items: null },
          subscription: subscriptionId,
          subscription_item: stripeId('si'),
        },
      }
    : {
        type: 'invoice_item_details',
        invoice_item_details: {
          invoice_item: stripeId('ii'),
          proration: false,
          proration_details: { credited_items: null },
          subscription: null,
        },
        subscription_item_details: null,
      };
  lines['url'] = `/v1/invoices/${id}/lines`;

  Object.assign(inv, {
    id,
    customer: opts.customer ?? inv['customer'] ?? null,
    status,
    created,
    effective_at: status === 'draft' ? null : created,
    period_start: created,
    period_end: created,
    amount_paid: amountPaid,
    amount_remaining: Math.max(amountDue - amountPaid, 0),
    attempted: status !== 'draft',
    attempt_count: status === 'draft' ? 0 : 1,
    billing_reason: subscriptionId ? 'subscription_cycle' : 'manual',
    last_finalization_error: null,
    status_transitions: {
      finalized_at: status === 'draft' ? null : created,
      marked_uncollectible_at: status === 'uncollectible' ? created : null,
      paid_at: status === 'paid' ? created : null,
      voided_at: status === 'void' ? created : null,
    },
    // 2026 shape: the subscription is named only under parent; the old top-level field stays null.
    subscription: null,
    parent: subscriptionId
      ? {
          type: 'subscription_details',
          quote_details: null,
          subscription_details: { metadata: opts.subscriptionMetadata ?? null, subscription: subscriptionId },
        }
      : null,
  } satisfies JsonObject);
  return typed<Stripe.Invoice>(withOverrides(inv, opts.overrides));
}

export interface CheckoutSessionObjectOptions {
  id?: string;
  customer?: string | null;
  subscription?: string | null;
  clientReferenceId?: string | null;
  metadata?: Record<string, string>;
  mode?: Stripe.Checkout.Session.Mode;
  /** Default "complete" (as in checkout.session.completed); "open" sessions carry a url. */
  status?: Stripe.Checkout.Session.Status;
  created?: number;
  overrides?: Partial<Stripe.Checkout.Session>;
}

export function checkoutSessionObject(opts: CheckoutSessionObjectOptions = {}): Stripe.Checkout.Session {
  return typed<Stripe.Checkout.Session>(checkoutSessionJson(opts));
}

/** Same as checkoutSessionObject, as plain JSON (for the API double's store). */
export function checkoutSessionJson(opts: CheckoutSessionObjectOptions = {}): JsonObject {
  const cs = stripeFixture('checkout.session');
  const id = opts.id ?? stripeId('cs_test');
  const created = opts.created ?? nowSeconds();
  const status = opts.status ?? 'complete';
  const mode = opts.mode ?? 'subscription';
  Object.assign(cs, {
    id,
    object: 'checkout.session',
    mode,
    status,
    created,
    expires_at: created + DAY,
    customer: opts.customer ?? null,
    subscription: opts.subscription ?? null,
    client_reference_id: opts.clientReferenceId ?? null,
    metadata: opts.metadata ?? {},
    payment_status: status === 'complete' ? 'paid' : 'unpaid',
    // The example is a payment-mode session; a subscription session has no payment intent.
    payment_intent: null,
    url: status === 'open' ? `https://checkout.stripe.com/c/pay/${id}` : null,
  } satisfies JsonObject);
  return withOverrides(cs, opts.overrides);
}

export interface BuildEventOptions {
  id?: string;
  /** Seconds since the epoch; default now. */
  created?: number;
  /** data.previous_attributes, as sent with *.updated events. */
  previousAttributes?: object;
}

type EventOfType<T extends Stripe.Event.Type> = Extract<Stripe.Event, { type: T }>;

/** A webhook event shaped like fixtures `resources.event`, carrying `object` as data.object. */
export function buildEvent<T extends Stripe.Event.Type>(type: T, object: object, opts: BuildEventOptions = {}): EventOfType<T> {
  const event = stripeFixture('event');
  const data: JsonObject = { object: object as JsonObject };
  if (opts.previousAttributes !== undefined) data['previous_attributes'] = opts.previousAttributes as JsonObject;
  Object.assign(event, {
    id: opts.id ?? stripeId('evt'),
    type,
    created: opts.created ?? nowSeconds(),
    api_version: STRIPE_API_VERSION,
    data,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
  } satisfies JsonObject);
  return typed<EventOfType<T>>(event);
}

export interface SignedPayload {
  /** The exact body to POST; the signature covers these bytes. */
  payload: string;
  /** Value for the `Stripe-Signature` header. */
  header: string;
}

/**
 * Signs an event (or an already-serialised body) with the SDK's own test signer, i.e. the
 * same HMAC scheme `stripe.webhooks.constructEvent` verifies. `timestamp` is in seconds
 * (default now); pass an old one to produce a stale signature.
 */
export function signEvent(event: object | string, secret: string, timestamp?: number): SignedPayload {
  const payload = typeof event === 'string' ? event : JSON.stringify(event, null, 2);
  const header = Stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    ...(timestamp !== undefined ? { timestamp } : {}),
  });
  return { payload, header };
}
