// Usage-based billing through Stripe meters: the job sends each tenant's
// metered usage once, with identifiers derived from our report ids, so a run
// killed between Stripe's answer and our record never bills twice; a chaos run
// (duplicates, kills, Stripe failures, retries) ends with tracked events,
// totals and Stripe's meter events in agreement.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { startStripeDouble, type StripeDouble } from '../support/stripe-double.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { reportUsageToStripe } from '../../actions-server/src/metering/stripe-report.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { enqueue } from '../../actions-server/src/jobs/queue.ts';
import { METERING_JOBS } from '../../actions-server/src/metering/jobs.ts';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, 'report-then-die.ts');

let db: TestDb;
let srv: RunningServer;
let stripe: StripeDouble;

beforeAll(async () => {
  stripe = await startStripeDouble();
  db = await createTestDb();
  srv = await startTestServer(db, {
    RATE_LIMIT_ENABLED: 'false',
    STRIPE_SECRET_KEY: 'sk_test_meter',
    STRIPE_WEBHOOK_SECRET: 'whsec_test_meter',
    STRIPE_API_BASE: stripe.url,
  });
  await db.pool.query(
    `update public.plan_meters set stripe_event_name = 'api_calls' where plan_id = 'enterprise' and meter_id = 'api-calls'`,
  );
});
afterAll(async () => {
  await srv?.close();
  await db?.close();
  await stripe?.close();
});

async function billedTenant(slug: string): Promise<MadeTenant & { customer: string }> {
  const made = await makeTenant(db, slug, { plan: 'enterprise', isolation: 'pooled' });
  const customer = stripe.putCustomer({ metadata: { tenant_id: made.tenant.id } }).id;
  await db.pool.query('update public.tenants set stripe_customer_id = $2 where id = $1', [made.tenant.id, customer]);
  return { ...made, customer };
}

const track = (m: MadeTenant, body: unknown) =>
  request(srv.url, '/api/v1/usage/track', {
    host: `${m.tenant.slug}.saas.test`,
    token: srv.ctx.tokens.sign({ userId: m.ownerId, tenantId: m.tenant.id, role: 'owner' }).token,
    body,
  });

/** Runs the reporter in a child process that is SIGKILLed between Stripe's answer and our record. */
async function reportAndDie(): Promise<'killed' | 'exited'> {
  try {
    await run(process.execPath, ['--import', 'tsx', SCRIPT], {
      env: { ...process.env, DATABASE_URL: db.url, STRIPE_API_BASE: stripe.url },
    });
    return 'exited';
  } catch (err) {
    if ((err as { signal?: string }).signal === 'SIGKILL') return 'killed';
    throw err;
  }
}

const billedFor = (customer: string) =>
  stripe.meterEvents
    .filter((e) => (e['payload'] as Record<string, string>)['stripe_customer_id'] === customer)
    .reduce((n, e) => n + Number((e['payload'] as Record<string, string>)['value']), 0);

const deps = () => ({ pool: db.pool, stripe: srv.ctx.stripe!, log: srv.ctx.log });

it('a run killed after Stripe accepted a report and before it was recorded: the rerun resends it, Stripe counts it once', async () => {
  const t = await billedTenant('killed');
  expect(
    (
      await track(t, {
        events: Array.from({ length: 40 }, (_, i) => ({ meter_id: 'api-calls', event_value: 3, idempotency_key: `k${i}` })),
      })
    ).status,
  ).toBe(201);
  expect(await reportAndDie()).toBe('killed');
  const pending = await db.pool.query(`select id, identifier, value::int from public.stripe_meter_reports where tenant_id = $1`, [
    t.tenant.id,
  ]);
  expect(pending.rows).toEqual([expect.objectContaining({ value: 120 })]);
  expect(stripe.meterEvents.map((e) => e['identifier'])).toContain(pending.rows[0].identifier);

  // The job (as the runner runs it) finishes what the killed run left.
  await enqueue(db.pool, 'metering.report-to-stripe', {});
  await runDueJobs(srv.ctx, METERING_JOBS);
  const sends = stripe.requests.filter((r) => r.path === '/v1/billing/meter_events' && r.body['identifier'] === pending.rows[0].identifier);
  expect(sends).toHaveLength(2);
  expect(billedFor(t.customer)).toBe(120);
  expect((await db.pool.query(`select status from public.stripe_meter_reports where tenant_id = $1`, [t.tenant.id])).rows).toEqual([
    { status: 'sent' },
  ]);
  // Nothing new: nothing sent.
  expect(await reportUsageToStripe(deps())).toBe(0);
});

it('chaos: duplicate batches, a killed reporter, Stripe failures and retries; events, totals and Stripe agree', async () => {
  const tenants = [await billedTenant('chaos-a'), await billedTenant('chaos-b')];
  let round = 0;
  for (const step of ['kill', 'stripe-500', 'ok'] as const) {
    round++;
    // Each tenant: two batches sent twice concurrently (retries of the same keys), plus a correction.
    await Promise.all(
      tenants.flatMap((t) => {
        const batch = (b: number) => ({
          events: Array.from({ length: 50 }, (_, i) => ({
            meter_id: 'api-calls',
            event_value: 1 + (i % 3),
            idempotency_key: `r${round}-b${b}-${i}`,
          })),
        });
        return [track(t, batch(1)), track(t, batch(1)), track(t, batch(2)), track(t, batch(2))];
      }),
    );
    for (const t of tenants) {
      expect((await track(t, { meter_id: 'api-calls', event_value: -2, correction: true, idempotency_key: `fix-${round}` })).status).toBe(
        201,
      );
    }
    if (step === 'kill') expect(await reportAndDie()).toBe('killed');
    if (step === 'stripe-500') {
      stripe.failNext('POST', '/v1/billing/meter_events', 500);
      await expect(reportUsageToStripe(deps())).rejects.toThrow();
    }
    if (step === 'ok') await reportUsageToStripe(deps());
  }
  // Retries until nothing is pending.
  while ((await reportUsageToStripe(deps())) > 0);

  for (const t of tenants) {
    const { rows } = await db.pool.query<{ events: number; sum: string; unreported: number; usage: string }>(
      `select count(*)::int as events, sum(value)::text as sum, count(*) filter (where reported_in is null)::int as unreported,
              (select usage::text from public.usage_meter_totals where tenant_id = $1 and meter_id = 'api-calls') as usage
       from public.usage_events where tenant_id = $1`,
      [t.tenant.id],
    );
    // 3 rounds x (2 batches of 50 events valued 1,2,3 cycling, then a correction of -2)
    const expected = 3 * (2 * (17 * 1 + 17 * 2 + 16 * 3) - 2);
    expect(rows[0]).toEqual({ events: 3 * 101, sum: String(expected), unreported: 0, usage: String(expected) });
    expect(billedFor(t.customer)).toBe(expected);
  }
  // Every report reached Stripe exactly once, though some were sent more than once.
  const reports = await db.pool.query<{ identifier: string }>(
    `select identifier from public.stripe_meter_reports where status = 'sent' and value > 0`,
  );
  const seen = stripe.meterEvents.map((e) => e['identifier']);
  expect(new Set(seen).size).toBe(seen.length);
  expect(reports.rows.length).toBeGreaterThan(0);
  for (const r of reports.rows) expect(seen).toContain(r.identifier);
  const sends = stripe.requests.filter((r) => r.path === '/v1/billing/meter_events').length;
  expect(sends).toBeGreaterThan(seen.length);
});
