// Recovery from Stripe: events Stripe gave up delivering (or sent while this
// server was down) are read back from Stripe's Events API, stored like the
// webhook stores them and applied at once (stored once, processed once);
// stored events whose processing failed are retried with backoff.
import type Stripe from 'stripe';
import { AppError } from '../core/errors.ts';
import { stripeEventSchema } from './schemas.ts';
import { requireStripe, type BillingDeps } from './stripe-client.ts';
import { applyStoredEvent, HANDLED_EVENT_TYPES, handleStripeEvent, type WebhookResult } from './webhooks.ts';

export interface ReplayReport {
  since: string;
  listed: number;
  processed: number;
  ignored: number;
  duplicate: number;
  failed: string[];
}

/** Stripe keeps events 30 days; a replay never asks for more than this many. */
const MAX_EVENTS = 20_000;
const PAGE = 100;

/**
 * Reads every handled event created since `since` (all pages) and then applies
 * them oldest first. Listing completes before anything is applied, so Stripe
 * being unreachable applies nothing; an event that fails is stored as failed
 * (and retried later) without stopping the others.
 */
export async function replayStripeEvents(deps: BillingDeps, since: Date): Promise<ReplayReport> {
  const stripe = requireStripe(deps);
  const events: Stripe.Event[] = [];
  let startingAfter: string | undefined;
  try {
    for (;;) {
      const page = await stripe.events.list({
        created: { gte: Math.floor(since.getTime() / 1000) },
        types: [...HANDLED_EVENT_TYPES],
        limit: PAGE,
        ...(startingAfter ? { starting_after: startingAfter } : {}),
      });
      events.push(...page.data);
      const last = page.data.at(-1);
      if (!page.has_more || !last || events.length >= MAX_EVENTS) break;
      startingAfter = last.id;
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    deps.log.warn({ err: message }, 'stripe replay: listing events failed; nothing applied');
    throw new AppError('PAYMENT_PROVIDER_ERROR', `Could not read events from Stripe (${message}); nothing was applied`);
  }
  // Stripe lists newest first; apply in the order they happened.
  const ordered = events.map((e, i) => ({ e, i })).sort((a, b) => a.e.created - b.e.created || b.i - a.i);
  const report: ReplayReport = { since: since.toISOString(), listed: events.length, processed: 0, ignored: 0, duplicate: 0, failed: [] };
  for (const { e } of ordered) {
    const parsed = stripeEventSchema.safeParse(e);
    if (!parsed.success) {
      report.failed.push(e.id);
      continue;
    }
    let result: WebhookResult;
    try {
      result = await handleStripeEvent({ ...deps, stripe }, parsed.data);
    } catch {
      report.failed.push(e.id);
      continue;
    }
    report[result.status] += 1;
  }
  deps.log.info({ ...report, failed: report.failed.length }, 'stripe replay done');
  return report;
}

/** Where a replay at worker start begins: the newest stored event, but never further back than `maxHours`. */
export async function replayStart(deps: Pick<BillingDeps, 'pool'>, now: Date, maxHours: number): Promise<Date> {
  const floor = new Date(now.getTime() - maxHours * 3_600_000);
  const { rows } = await deps.pool.query<{ newest: Date | null }>('select max(event_created_at) as newest from public.stripe_webhooks');
  const newest = rows[0]?.newest ?? null;
  return newest && newest > floor ? newest : floor;
}

/**
 * Re-processes stored events whose processing failed once their backoff has
 * passed (as of `now`): 1, 2, 4 … minutes after the last attempt, at most 6 hours.
 */
export async function retryFailedEvents(
  deps: BillingDeps,
  now: Date,
  maxAttempts: number,
): Promise<{ retried: number; recovered: number }> {
  const stripe = requireStripe(deps);
  const { rows } = await deps.pool.query<{ event_id: string }>(
    `select event_id from public.stripe_webhooks
      where not processed and attempts < $2
        and updated_at <= $1::timestamptz - make_interval(mins => least(power(2, greatest(attempts - 1, 0))::int, 360))
      order by event_created_at, id limit 100`,
    [now, maxAttempts],
  );
  let recovered = 0;
  for (const row of rows) {
    try {
      await applyStoredEvent({ ...deps, stripe }, row.event_id);
      recovered += 1;
    } catch {
      // Recorded by applyStoredEvent (attempts + 1); the next run tries again after a longer wait.
    }
  }
  if (rows.length) deps.log.info({ retried: rows.length, recovered }, 'failed stripe events retried');
  return { retried: rows.length, recovered };
}
