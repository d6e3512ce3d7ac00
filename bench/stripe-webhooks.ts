// bench/README.md: Stripe webhooks are acknowledged at ≥ 1,000 events/s with 8
// concurrent deliveries, and every one is then applied exactly once. The
// project side is the real server's POST /api/billing/webhook (signature check,
// store once, queue the applier) with the SDK pointed at the local Stripe
// double; the baseline is a bare Express handler that checks the signature and
// stores the event once, nothing more. One delivery in ten is a redelivery
// racing the first. The drain is then the job runner (runDueJobs) applying the
// whole backlog, timed on its own: events applied per second.
import { randomBytes } from 'node:crypto';
import express from 'express';
import Stripe from 'stripe';
import { WEBHOOK_PATH } from '../actions-server/src/billing/routes.ts';
import { runDueJobs } from '../actions-server/src/jobs/runner.ts';
import { startStripeDouble } from '../tests/support/stripe-double.ts';
import { buildEvent, invoiceObject, nowSeconds, signEvent, subscriptionJson } from '../tests/support/stripe-events.ts';
import { deliver, type DeliveryPlan, type DeliveryResult } from './support/deliveries.ts';
import { insertRegistryTenants } from './support/fill.ts';
import { listen, startProjectServer } from './support/servers.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';

const CONCURRENCY = 8;
const shapeFor = (scale: Scale) => sized(scale, { tiny: { tenants: 20, perTenant: 10 }, default: { tenants: 1_000, perTenant: 10 } });
const PRICE = 'price_bench_pro_monthly';
const DAY = 86_400;

interface PlannedEvent {
  id: string;
  json: string;
}

export const stripeWebhooks: Benchmark = {
  name: 'stripe-webhooks',
  title: 'Stripe webhooks: verify + store (bare Express) vs POST /api/billing/webhook (verify, store, queue), then the applier job',
  rows(scale) {
    const { tenants, perTenant } = shapeFor(scale);
    return [
      {
        id: 'events-s',
        metric: `${(tenants * perTenant).toLocaleString('en-US')} signed events (+10% redeliveries), ${CONCURRENCY} concurrent deliveries: events acknowledged/s`,
        unit: 'events/s',
        target: { kind: 'absolute', op: '>=', limit: 1_000, unit: 'events/s' },
      },
      {
        id: 'drain-s',
        metric: 'the backlog they leave, applied by the job runner (each exactly once, in the order rules): events applied/s',
        unit: 'events/s',
        target: { kind: 'info', text: 'reported' },
      },
    ];
  },

  async run(ctx) {
    const { tenants: tenantCount, perTenant } = shapeFor(ctx.scale);
    const warmTenants = sized(ctx.scale, { tiny: 0, default: 20 });
    const secret = `whsec_${randomBytes(24).toString('hex')}`;
    const stripeDouble = await startStripeDouble();
    const db = await ctx.cluster.createDb('stripe_webhooks');
    const project = await startProjectServer(db, {
      STRIPE_SECRET_KEY: 'sk_test_bench',
      STRIPE_WEBHOOK_SECRET: secret,
      STRIPE_API_BASE: stripeDouble.url,
      STRIPE_PRICE_PRO_MONTHLY: PRICE,
    });
    let bare: { url: string; close(): Promise<void> } | undefined;
    try {
      const slugs = await insertRegistryTenants(db.pool, warmTenants + tenantCount);
      const { rows: tenants } = await db.pool.query<{ id: string }>('select id from public.tenants where slug = any($1) order by slug', [
        slugs,
      ]);

      // Per tenant: subscription created, updated (perTenant - 2 times, each a
      // later period), then its invoice paid; every event a second later than
      // the tenant's previous one. Deliveries go round the tenants, so each
      // tenant's events arrive about in order, as Stripe sends them.
      const base = nowSeconds() - 3_600;
      const plans: PlannedEvent[][] = tenants.map((t, ti) => {
        const customer = `cus_bench${String(ti).padStart(6, '0')}`;
        const subscription = `sub_bench${String(ti).padStart(6, '0')}`;
        const metadata = { tenant_id: t.id, plan: 'pro', interval: 'month' };
        const sub = (k: number) =>
          subscriptionJson({
            id: subscription,
            customer,
            status: 'active',
            priceId: PRICE,
            metadata,
            created: base,
            currentPeriodStart: base + k * DAY,
            currentPeriodEnd: base + (k + 30) * DAY,
          });
        // The double answers a re-read (a tie between two states) with the final state.
        stripeDouble.putSubscription({
          id: subscription,
          customer,
          status: 'active',
          priceId: PRICE,
          metadata,
          created: base,
          currentPeriodStart: base + (perTenant - 2) * DAY,
          currentPeriodEnd: base + (perTenant - 2 + 30) * DAY,
        });
        return Array.from({ length: perTenant }, (_, k) => {
          const created = base + k;
          const event =
            k === 0
              ? buildEvent('customer.subscription.created', sub(k), { created })
              : k < perTenant - 1
                ? buildEvent('customer.subscription.updated', sub(k), { created })
                : buildEvent(
                    'invoice.paid',
                    invoiceObject({ customer, subscriptionId: subscription, subscriptionMetadata: metadata, status: 'paid', created }),
                    { created },
                  );
          return { id: event.id, json: JSON.stringify(event) };
        });
      });
      const sequenceOf = (group: PlannedEvent[][]) => {
        const ordered: PlannedEvent[] = [];
        for (let k = 0; k < perTenant; k++) for (const p of group) ordered.push(p[k]!);
        const sequence: PlannedEvent[] = [];
        ordered.forEach((e, i) => {
          sequence.push(e);
          // A redelivery of every tenth event, close enough to race the first.
          if (i % 10 === 5) sequence.splice(Math.max(0, sequence.length - 3), 0, e);
        });
        return { ordered, sequence };
      };
      // A few tenants' events first, unmeasured (JIT, plans, connections); they count in the checks.
      const warm = sequenceOf(plans.slice(0, warmTenants));
      const { ordered, sequence } = sequenceOf(plans.slice(warmTenants));
      const redeliveries = sequence.length - ordered.length + (warm.sequence.length - warm.ordered.length);
      const events = ordered.length + warm.ordered.length;
      const deliveries = sequence.length + warm.sequence.length;
      // Signed just before each side's run: Stripe's signatures expire after 300 s.
      const planFor = (url: string, list: PlannedEvent[]): DeliveryPlan => ({
        url: `${url}${WEBHOOK_PATH}`,
        concurrency: CONCURRENCY,
        deliveries: list.map((e) => {
          const signed = signEvent(e.json, secret);
          return { body: signed.payload, headers: { 'stripe-signature': signed.header } };
        }),
      });

      // Baseline: verify the signature, store the event once; no tenant change.
      await db.pool.query('create table public.bench_bare_webhooks (event_id text primary key, payload jsonb not null)');
      const app = express();
      app.post(WEBHOOK_PATH, express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
        const event = Stripe.webhooks.constructEvent(req.body as Buffer, req.get('stripe-signature') ?? '', secret);
        const { rowCount } = await db.pool.query(
          'insert into public.bench_bare_webhooks (event_id, payload) values ($1, $2) on conflict (event_id) do nothing',
          [event.id, JSON.stringify(event)],
        );
        res.json({ received: true, status: rowCount === 1 ? 'stored' : 'duplicate' });
      });
      bare = await listen(app);

      const runs = { baseline: [] as DeliveryResult[], project: [] as DeliveryResult[] };
      for (const [label, list] of [
        ['warm-up', warm.sequence],
        ['measured', sequence],
      ] as const) {
        if (list.length === 0) continue;
        ctx.progress(`${label}: ${list.length} deliveries each side`);
        runs.baseline.push(await deliver(planFor(bare.url, list)));
        runs.project.push(await deliver(planFor(project.url, list)));
      }
      // The applier drains what the deliveries stored (the warm-up's too: it runs once).
      ctx.progress(`drain: ${events} stored events`);
      const drainStart = performance.now();
      await runDueJobs(project.ctx);
      const drainMs = performance.now() - drainStart;

      const total = (side: DeliveryResult[], pick: (r: DeliveryResult) => number) => side.reduce((n, r) => n + pick(r), 0);
      const ok = (r: DeliveryResult) => (r.statusCodes['200'] ?? 0) + (r.statusCodes['202'] ?? 0);
      const dup = (r: DeliveryResult) => r.outcomes['duplicate'] ?? 0;
      ctx.check(
        'every delivery answered 200/202 (baseline, project)',
        [deliveries, deliveries],
        [total(runs.baseline, ok), total(runs.project, ok)],
      );
      ctx.check(
        'redeliveries answered as duplicates (baseline, project)',
        [redeliveries, redeliveries],
        [total(runs.baseline, dup), total(runs.project, dup)],
      );
      const stored = await db.pool.query<{ n: number; processed: number; attempts: number }>(
        `select count(*)::int as n, count(*) filter (where processed)::int as processed, coalesce(sum(attempts), 0)::int as attempts
         from public.stripe_webhooks`,
      );
      ctx.check(
        'stripe_webhooks: every event stored once, processed once (rows, processed, attempts)',
        [events, events, events],
        [stored.rows[0]!.n, stored.rows[0]!.processed, stored.rows[0]!.attempts],
      );
      // Each tenant ends in the state of its newest events, whatever the interleaving.
      const final = await db.pool.query<{ n: number }>(
        `select count(*)::int as n from public.tenants
         where id = any($1) and plan = 'pro' and subscription_status = 'active'
           and current_period_end = to_timestamp($2::bigint)
           and subscription_state_at = to_timestamp($3::bigint)`,
        [tenants.map((t) => t.id), base + (perTenant - 2 + 30) * DAY, base + perTenant - 1],
      );
      ctx.check('every tenant ends on pro/active with its newest period', tenants.length, final.rows[0]!.n);

      const rate = (side: DeliveryResult[]) => (ordered.length / side.at(-1)!.durationMs) * 1000;
      return {
        'events-s': {
          baseline: rate(runs.baseline),
          project: rate(runs.project),
          note: `${ordered.length} events over ${tenantCount} tenants, ${sequence.length - ordered.length} redeliveries; distinct events over the whole delivery time`,
        },
        'drain-s': {
          baseline: null,
          project: (events / drainMs) * 1000,
          note: `${events} events applied in ${(drainMs / 1000).toFixed(1)} s after the deliveries, ${stripeDouble.requests.filter((r) => r.method === 'GET').length} re-reads from Stripe`,
        },
      };
    } finally {
      await bare?.close();
      await project.close();
      await stripeDouble.close();
      await db.close();
    }
  },
};
