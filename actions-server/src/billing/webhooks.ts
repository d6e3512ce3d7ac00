// Stripe webhooks: verified on the raw body and stored once in stripe_webhooks
// (unique event id); the stored row is the acknowledgement's proof, and the job
// runner applies it (billing.apply-events). Applying runs in the transaction
// that changes the tenant, under the event's row lock, so an event is either
// fully applied and marked processed, or not at all and retryable: exactly
// once however many deliveries, replays and appliers meet. The applier walks
// the backlog oldest Stripe time first; events of one tenant queue on the
// tenant row, and the order rules (lifecycle.ts) settle whatever arrives late.
import Stripe from 'stripe';
import { AppError, databaseUnavailable, databaseUnavailableReason } from '../core/errors.ts';
import { asSystem, isUuid, type Client, type Pool } from '../db/tx.ts';
import type { Actor } from '../core/actor.ts';
import { enqueue, wakeJob } from '../jobs/queue.ts';
import {
  BILLING_COLUMNS,
  decide,
  impliedByInvoice,
  nextTenantState,
  type BillingRow,
  type StateSource,
  type SubscriptionState,
} from './lifecycle.ts';
import { isBillingInterval, planForPrice } from './prices.ts';
import {
  checkoutSessionSchema,
  invoiceSchema,
  stripeEventSchema,
  subscriptionSchema,
  type StripeEventEnvelope,
  type StripeSubscription,
} from './schemas.ts';
import { requireStripe, type BillingDeps } from './stripe-client.ts';

export const HANDLED_EVENT_TYPES = [
  'checkout.session.completed',
  'customer.subscription.created',
  'customer.subscription.updated',
  'customer.subscription.deleted',
  'customer.subscription.trial_will_end',
  'invoice.paid',
  'invoice.payment_failed',
] as const satisfies readonly Stripe.Event.Type[];
type HandledType = (typeof HANDLED_EVENT_TYPES)[number];

function isHandled(type: string): type is HandledType {
  return (HANDLED_EVENT_TYPES as readonly string[]).includes(type);
}

/** The job that applies stored events (billing/jobs.ts); its runs queue one behind the other. */
export const APPLY_EVENTS_JOB = 'billing.apply-events';

export interface WebhookReceipt {
  /** stored: new, answered 202 and applied by the job runner; duplicate: stored before, answered 200. */
  status: 'stored' | 'duplicate';
  eventId: string;
}

export interface WebhookResult {
  /** processed: applied now; ignored: nothing to change; duplicate: applied before. */
  status: 'processed' | 'ignored' | 'duplicate';
  eventId: string;
  tenantId: string | null;
}

interface Processing {
  tenantId: string | null;
  applied: boolean;
  reason?: string;
}

export interface WebhookDeps extends BillingDeps {
  stripe: Stripe;
}

/** POST /api/billing/webhook: verify, store once, queue the applier. */
export async function receiveWebhook(ctx: BillingDeps, rawBody: unknown, signature: string | undefined): Promise<WebhookReceipt> {
  const stripe = requireStripe(ctx);
  const secret = ctx.env.STRIPE_WEBHOOK_SECRET;
  if (!secret) {
    throw new AppError('SERVICE_UNAVAILABLE', 'Stripe webhooks are not configured: set STRIPE_WEBHOOK_SECRET', {
      variable: 'STRIPE_WEBHOOK_SECRET',
    });
  }
  if (!Buffer.isBuffer(rawBody) || rawBody.length === 0) {
    throw new AppError('VALIDATION_FAILED', 'Expected the Stripe event as the request body');
  }
  if (!signature) throw new AppError('INVALID_SIGNATURE', 'Missing Stripe-Signature header');
  let verified: Stripe.Event;
  try {
    // Default tolerance (300 s): a replayed or delayed-and-resigned body is refused.
    verified = stripe.webhooks.constructEvent(rawBody, signature, secret);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new AppError('INVALID_SIGNATURE', 'The Stripe-Signature header does not match this body, or is too old');
    }
    if (err instanceof SyntaxError) throw new AppError('MALFORMED_JSON', 'The signed body is not a JSON event');
    throw err;
  }
  const parsed = stripeEventSchema.safeParse(verified);
  if (!parsed.success) throw new AppError('VALIDATION_FAILED', 'The signed body is not a Stripe event');
  const event = parsed.data;
  let status: WebhookReceipt['status'];
  try {
    status = await storeStripeEvent(ctx.pool, event);
  } catch (err) {
    ctx.log.error(
      { eventId: event.id, type: event.type, err: (err as Error).message },
      'stripe event not stored; left for Stripe to retry',
    );
    // A lost database connection is a 503 like everywhere else (Stripe retries either way).
    const unavailable = databaseUnavailableReason(err);
    if (unavailable) throw databaseUnavailable(unavailable);
    throw new AppError('INTERNAL', 'The event could not be stored; Stripe will retry it');
  }
  if (status === 'stored') {
    // Not awaited: stored is received, and the wake is shared with the deliveries of the next
    // moment. Should it fail or this process die first, the applier's periodic run finds the row.
    wakeJob(ctx.pool, APPLY_EVENTS_JOB, { queue: APPLY_EVENTS_JOB }).catch((err: unknown) =>
      ctx.log.warn({ eventId: event.id, err: (err as Error).message }, 'could not queue the stripe event applier; its periodic run will'),
    );
  }
  ctx.log.info({ eventId: event.id, type: event.type, status }, 'stripe event received');
  return { status, eventId: event.id };
}

/** Events stored in one statement at most (about 4 KB each). */
const STORE_BATCH = 64;

interface PendingStore {
  event: StripeEventEnvelope;
  done: (status: WebhookReceipt['status']) => void;
  failed: (err: unknown) => void;
}

/**
 * Stores verified events, each acknowledged only once its row is committed.
 * While one insert is in flight, the events that arrive meanwhile wait and go
 * together in the next one: one statement and one commit (one WAL flush) for
 * a burst instead of one each, with no wait added when deliveries are few.
 * The unique event id makes a concurrent or later copy a duplicate, in the
 * same batch too (the first copy is the one stored).
 */
class EventStore {
  private readonly queue: PendingStore[] = [];
  private flushing = false;

  constructor(private readonly pool: Pool) {}

  store(event: StripeEventEnvelope): Promise<WebhookReceipt['status']> {
    return new Promise((done, failed) => {
      this.queue.push({ event, done, failed });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, STORE_BATCH);
      try {
        const { rows } = await this.pool.query<{ event_id: string }>(
          `insert into public.stripe_webhooks (event_id, type, api_version, livemode, payload, event_created_at)
           select e->>'id', e->>'type', e->>'api_version', (e->>'livemode')::boolean, e, to_timestamp((e->>'created')::float8)
             from jsonb_array_elements($1::jsonb) as e
           on conflict (event_id) do nothing
           returning event_id`,
          [JSON.stringify(batch.map((p) => p.event))],
        );
        const stored = new Set(rows.map((r) => r.event_id));
        for (const p of batch) {
          // delete: a second copy in the same batch is a duplicate of the first.
          p.done(stored.delete(p.event.id) ? 'stored' : 'duplicate');
        }
      } catch (err) {
        for (const p of batch) p.failed(err);
      }
    }
    this.flushing = false;
  }
}

const stores = new WeakMap<Pool, EventStore>();

function storeStripeEvent(pool: Pool, event: StripeEventEnvelope): Promise<WebhookReceipt['status']> {
  let store = stores.get(pool);
  if (!store) stores.set(pool, (store = new EventStore(pool)));
  return store.store(event);
}

/** Stores an event read from Stripe (replay) if it is new, then applies it at once. */
export async function handleStripeEvent(deps: WebhookDeps, event: StripeEventEnvelope): Promise<WebhookResult> {
  await storeStripeEvent(deps.pool, event);
  return applyStoredEvent(deps, event.id);
}

/**
 * Applies one stored event unless it was applied before, under its row lock (a
 * concurrent applier of the same event waits, then finds it processed). A
 * failure is recorded on the row (attempts + 1, error) and rethrown.
 */
export async function applyStoredEvent(deps: WebhookDeps, eventId: string): Promise<WebhookResult> {
  try {
    const result = await asSystem(
      deps.pool,
      async (client): Promise<WebhookResult & { type: string; reason?: string | undefined }> => {
        const stored = (
          await client.query<{ processed: boolean; tenant_id: string | null; payload: unknown }>(
            'select processed, tenant_id, payload from public.stripe_webhooks where event_id = $1 for update',
            [eventId],
          )
        ).rows[0];
        if (!stored) throw new Error(`no stored stripe event ${eventId}`);
        const event = stripeEventSchema.parse(stored.payload);
        if (stored.processed) return { status: 'duplicate', eventId, tenantId: stored.tenant_id, type: event.type };

        const outcome: Processing = isHandled(event.type)
          ? await processEvent(deps, client, event.type, event)
          : { tenantId: null, applied: false, reason: 'event type not handled' };
        const status = outcome.applied ? 'processed' : 'ignored';
        await client.query(
          `update public.stripe_webhooks
              set processed = true, processed_at = now(), attempts = attempts + 1, error = null, tenant_id = $2,
                  outcome = $3, outcome_reason = $4
            where event_id = $1`,
          [eventId, outcome.tenantId, status, outcome.reason ?? null],
        );
        return { status, eventId, tenantId: outcome.tenantId, type: event.type, reason: outcome.reason };
      },
      { kind: 'stripe' },
    );
    deps.log.info(
      { eventId, type: result.type, tenantId: result.tenantId, status: result.status, reason: result.reason },
      'stripe event applied',
    );
    return { status: result.status, eventId: result.eventId, tenantId: result.tenantId };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (lostDatabase(err)) {
      // Not the event's failure: it stays in the backlog for the applier's next run.
      deps.log.warn({ eventId, err: message }, 'stripe event not applied: the database is unavailable');
      throw err;
    }
    deps.log.error({ eventId, err: message }, 'stripe event failed; retried after a backoff');
    await recordFailure(deps.pool, eventId, message).catch((e: unknown) =>
      deps.log.error({ eventId, err: (e as Error).message }, 'could not record the failed stripe event'),
    );
    throw err;
  }
}

/** A lost connection or an exhausted pool; a statement timeout is the event's own failure. */
function lostDatabase(err: unknown): boolean {
  const reason = databaseUnavailableReason(err);
  return reason === 'connection_lost' || reason === 'pool_timeout';
}

/** In its own transaction: the failed attempt's changes are gone, its trace stays. */
async function recordFailure(pool: Pool, eventId: string, message: string): Promise<void> {
  await pool.query(
    `update public.stripe_webhooks set attempts = attempts + 1, error = $2
      where event_id = $1 and not processed`,
    [eventId, message.slice(0, 2000)],
  );
}

const BACKLOG_PAGE = 200;

/**
 * Attempts the applier makes itself, a second apart and more: most failures
 * (a lock or statement timeout, a backend ended under it, Stripe busy on a
 * re-read) pass at once, so an event does not wait for the retry job's
 * minutes of backoff. Beyond these, billing.retry-failed-events takes over.
 */
export const APPLIER_ATTEMPTS = 3;

/**
 * The applier (billing.apply-events): every stored event not applied yet,
 * oldest Stripe time first, each in its own transaction; one that failed fewer
 * than APPLIER_ATTEMPTS times is taken again once `attempts` seconds have
 * passed since it failed, and the applier queues its own next run for it. One
 * pass: what is stored behind its cursor queues the next run. A lost database
 * stops the pass (the job retries).
 */
export async function applyPendingEvents(
  deps: WebhookDeps,
): Promise<{ processed: number; ignored: number; duplicate: number; failed: number }> {
  const tally = { processed: 0, ignored: 0, duplicate: 0, failed: 0 };
  let cursor: { at: Date | '-infinity'; id: string } = { at: '-infinity', id: '0' };
  for (;;) {
    // id is a bigint (a string in JS): ordered and compared as a number, never as its text.
    const { rows } = await deps.pool.query<{ id: string; event_id: string; at: Date }>(
      `select id, event_id, event_created_at as at from public.stripe_webhooks
        where not processed and attempts < $4 and updated_at <= now() - make_interval(secs => attempts)
          and (event_created_at, id) > ($1::timestamptz, $2::bigint)
        order by event_created_at, id limit $3`,
      [cursor.at, cursor.id, BACKLOG_PAGE, APPLIER_ATTEMPTS],
    );
    for (const row of rows) {
      try {
        tally[(await applyStoredEvent(deps, row.event_id)).status] += 1;
      } catch (err) {
        // Without a database the rest would fail too: the job's retry resumes the pass.
        if (lostDatabase(err)) throw err;
        tally.failed += 1;
      }
    }
    const last = rows.at(-1);
    if (!last || rows.length < BACKLOG_PAGE) break;
    cursor = { at: last.at, id: last.id };
  }
  if (tally.failed > 0) await wakeApplierForRetries(deps.pool);
  if (tally.processed + tally.ignored + tally.failed > 0) deps.log.info(tally, 'stored stripe events applied');
  return tally;
}

/** Queues the applier for the earliest failed event it may take again, if any. */
async function wakeApplierForRetries(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ at: Date | null }>(
    `select min(updated_at + make_interval(secs => attempts)) as at from public.stripe_webhooks
      where not processed and attempts between 1 and $1 - 1`,
    [APPLIER_ATTEMPTS],
  );
  const at = rows[0]?.at;
  if (at) await enqueue(pool, APPLY_EVENTS_JOB, {}, { jobKey: `${APPLY_EVENTS_JOB}:retry`, runAt: at, queue: APPLY_EVENTS_JOB });
}

async function processEvent(deps: WebhookDeps, client: Client, type: HandledType, event: StripeEventEnvelope): Promise<Processing> {
  const at = new Date(event.created * 1000);
  const object = event.data.object;
  switch (type) {
    case 'checkout.session.completed':
      return onCheckoutCompleted(deps, client, object, at);
    case 'customer.subscription.created':
    case 'customer.subscription.updated':
    case 'customer.subscription.deleted':
    case 'customer.subscription.trial_will_end':
      return onSubscription(deps, client, type, object, at);
    case 'invoice.paid':
      return onInvoice(deps, client, 'paid', object, at);
    case 'invoice.payment_failed':
      return onInvoice(deps, client, 'failed', object, at);
    default: {
      const never: never = type;
      throw new Error(`unhandled stripe event type ${String(never)}`);
    }
  }
}

async function onCheckoutCompleted(deps: WebhookDeps, client: Client, object: unknown, at: Date): Promise<Processing> {
  const session = checkoutSessionSchema.parse(object);
  if (session.mode !== 'subscription') return { tenantId: null, applied: false, reason: `checkout mode ${session.mode}` };
  const row = await lockTenant(client, {
    customerId: session.customer,
    tenantId: session.client_reference_id ?? session.metadata['tenant_id'],
  });
  if (!row) return { tenantId: null, applied: false, reason: 'no tenant for this checkout' };
  if (!session.subscription) return linkCustomer(client, row, session.customer ?? null);
  if (row.stripe_subscription_id === session.subscription && row.subscription_state_at && at < row.subscription_state_at) {
    return linkCustomer(client, row, session.customer ?? null);
  }
  // The session names the subscription but not its state: read it.
  return applyFresh(deps, client, row, session.subscription, at);
}

async function onSubscription(deps: WebhookDeps, client: Client, type: HandledType, object: unknown, at: Date): Promise<Processing> {
  const sub = subscriptionSchema.parse(object);
  const row = await lockTenant(client, { customerId: sub.customer, subscriptionId: sub.id, tenantId: sub.metadata['tenant_id'] });
  if (!row) return { tenantId: null, applied: false, reason: 'no tenant for this subscription' };
  if (type === 'customer.subscription.trial_will_end') {
    await recordTrialNotice(client, row.id, sub);
    deps.log.info({ tenantId: row.id, subscriptionId: sub.id, trialEnd: sub.trial_end }, 'trial ends in three days');
  }
  return applyState(deps, client, row, await stateOf(deps, client, sub), at, 'event');
}

async function onInvoice(deps: WebhookDeps, client: Client, kind: 'paid' | 'failed', object: unknown, at: Date): Promise<Processing> {
  const invoice = invoiceSchema.parse(object);
  const details = invoice.parent?.subscription_details;
  const subscriptionId = details?.subscription ?? invoice.subscription ?? null;
  const row = await lockTenant(client, {
    customerId: invoice.customer,
    subscriptionId,
    tenantId: details?.metadata['tenant_id'],
  });
  if (!row) return { tenantId: null, applied: false, reason: 'no tenant for this invoice' };
  if (kind === 'paid') {
    // A payment is a fact whatever the order of delivery: keep the latest one.
    const paidAt = invoice.status_transitions?.paid_at ? new Date(invoice.status_transitions.paid_at * 1000) : at;
    await client.query('update public.tenants set last_payment_at = greatest(last_payment_at, $2) where id = $1', [row.id, paidAt]);
  }
  if (!subscriptionId) return { tenantId: row.id, applied: kind === 'paid', reason: 'invoice outside a subscription' };
  const implied = row.stripe_subscription_id === subscriptionId ? impliedByInvoice(row, kind) : undefined;
  // An invoice of a subscription the tenant does not hold yet (events out of order): read it.
  if (!implied) return applyFresh(deps, client, row, subscriptionId, at);
  return applyState(deps, client, row, implied, at, 'event');
}

async function applyFresh(deps: WebhookDeps, client: Client, row: BillingRow, subscriptionId: string, at: Date): Promise<Processing> {
  const sub = subscriptionSchema.parse(await deps.stripe.subscriptions.retrieve(subscriptionId));
  return applyState(deps, client, row, await stateOf(deps, client, sub), at, 'stripe');
}

async function applyState(
  deps: WebhookDeps,
  client: Client,
  row: BillingRow,
  state: SubscriptionState,
  at: Date,
  source: StateSource,
): Promise<Processing> {
  const decision = decide(row, state, at, source);
  switch (decision) {
    case 'apply':
      break;
    case 'tie':
      // Two states from the same second in unknown order: Stripe's current one settles it.
      return applyFresh(deps, client, row, state.id, at);
    case 'stale':
      return { tenantId: row.id, applied: false, reason: 'older than the state already applied' };
    case 'other-subscription':
      deps.log.warn(
        { tenantId: row.id, held: row.stripe_subscription_id, event: state.id },
        'event for a subscription the tenant does not hold',
      );
      return { tenantId: row.id, applied: false, reason: 'not the current subscription of the tenant' };
    default: {
      const never: never = decision;
      throw new Error(`unknown decision ${String(never)}`);
    }
  }
  const next = nextTenantState(row, state, at, deps.env.BILLING_GRACE_DAYS);
  if (state.plan === null && (state.status === 'active' || state.status === 'trialing')) {
    deps.log.warn({ tenantId: row.id, subscriptionId: state.id }, 'subscription price is not a configured plan price; plan unchanged');
  }
  await client.query(
    `update public.tenants
        set status = $2, suspended_at = $3, plan = $4, trial_ends_at = $5,
            stripe_customer_id = $6, stripe_subscription_id = $7, subscription_status = $8,
            billing_interval = $9, current_period_start = $10, current_period_end = $11,
            cancel_at_period_end = $12, past_due_since = $13, grace_ends_at = $14, subscription_state_at = $15
      where id = $1`,
    [
      row.id,
      next.status,
      next.suspended_at,
      next.plan,
      next.trial_ends_at,
      next.stripe_customer_id,
      next.stripe_subscription_id,
      next.subscription_status,
      next.billing_interval,
      next.current_period_start,
      next.current_period_end,
      next.cancel_at_period_end,
      next.past_due_since,
      next.grace_ends_at,
      next.subscription_state_at,
    ],
  );
  return { tenantId: row.id, applied: true };
}

/** The customer a checkout was paid with becomes the tenant's, if it had none. */
async function linkCustomer(client: Client, row: BillingRow, customerId: string | null): Promise<Processing> {
  if (!customerId || row.stripe_customer_id !== null) return { tenantId: row.id, applied: false, reason: 'nothing to change' };
  await client.query('update public.tenants set stripe_customer_id = $2 where id = $1', [row.id, customerId]);
  return { tenantId: row.id, applied: true };
}

const seconds = (s: number | null | undefined): Date | null => (s === null || s === undefined ? null : new Date(s * 1000));

async function stateOf(deps: WebhookDeps, client: Client, sub: StripeSubscription): Promise<SubscriptionState> {
  const item = sub.items.data[0];
  const byPrice = item?.price ? planForPrice(deps.env, item.price.id) : undefined;
  let plan = byPrice?.plan ?? null;
  const named = sub.metadata['plan'];
  if (plan === null && named) {
    // Our checkout names the plan in the subscription's metadata; trust it only if the plan exists.
    const known = await client.query('select 1 from public.plans where id = $1', [named]);
    if (known.rowCount) plan = named;
  }
  const recurring = item?.price?.recurring?.interval;
  const metaInterval = sub.metadata['interval'];
  return {
    id: sub.id,
    customerId: sub.customer,
    status: sub.status,
    plan,
    interval: byPrice?.interval ?? (isBillingInterval(recurring) ? recurring : isBillingInterval(metaInterval) ? metaInterval : null),
    periodStart: seconds(item?.current_period_start ?? sub.current_period_start),
    periodEnd: seconds(item?.current_period_end ?? sub.current_period_end),
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    trialEnd: seconds(sub.trial_end),
  };
}

/**
 * Finds and locks the tenant an object belongs to: by the Stripe customer we
 * created for it, then by its subscription, then by the tenant id our checkout
 * put in the metadata (only for a tenant not already billed through another customer).
 */
async function lockTenant(
  client: Client,
  ref: { customerId?: string | null | undefined; subscriptionId?: string | null | undefined; tenantId?: string | null | undefined },
): Promise<BillingRow | undefined> {
  const one = async (where: string, value: string) =>
    (await client.query<BillingRow>(`select ${BILLING_COLUMNS} from public.tenants where ${where} = $1 for update`, [value])).rows[0];
  if (ref.customerId) {
    const row = await one('stripe_customer_id', ref.customerId);
    if (row) return row;
  }
  if (ref.subscriptionId) {
    const row = await one('stripe_subscription_id', ref.subscriptionId);
    if (row) return row;
  }
  if (ref.tenantId && isUuid(ref.tenantId)) {
    const row = await one('id', ref.tenantId);
    if (row && (row.stripe_customer_id === null || !ref.customerId || row.stripe_customer_id === ref.customerId)) return row;
  }
  return undefined;
}

/** A notice the owners read in GET /api/billing; once per subscription and trial end, however often Stripe sends it. */
async function recordTrialNotice(client: Client, tenantId: string, sub: StripeSubscription): Promise<void> {
  const trialEnd = seconds(sub.trial_end);
  const when = trialEnd ? trialEnd.toISOString().slice(0, 10) : 'soon';
  await client.query(
    `insert into public.tenant_notices (tenant_id, kind, dedupe_key, message, data)
     values ($1, 'billing.trial_will_end', $2, $3, $4)
     on conflict (tenant_id, dedupe_key) do nothing`,
    [
      tenantId,
      `trial_will_end:${sub.id}:${sub.trial_end ?? ''}`,
      `Your trial ends on ${when}. Add a payment method to keep your plan; otherwise the workspace moves to the free plan.`,
      JSON.stringify({ subscriptionId: sub.id, trialEndsAt: trialEnd?.toISOString() ?? null }),
    ],
  );
}

/**
 * Applies a subscription Stripe has just returned to one of our own calls
 * (change of plan, cancel, resume) through the same decision as its events, so
 * the tenant reflects it at once and the later webhook changes nothing.
 */
export async function applySubscriptionRead(deps: WebhookDeps, raw: unknown, actor: Actor): Promise<void> {
  const sub = subscriptionSchema.parse(raw);
  // Stripe's clock has second precision; a webhook of the same second then re-reads rather than losing the tie.
  const at = new Date(Math.floor(Date.now() / 1000) * 1000);
  await asSystem(
    deps.pool,
    async (client) => {
      const row = await lockTenant(client, { customerId: sub.customer, subscriptionId: sub.id, tenantId: sub.metadata['tenant_id'] });
      if (row) await applyState(deps, client, row, await stateOf(deps, client, sub), at, 'stripe');
    },
    actor,
  );
}
