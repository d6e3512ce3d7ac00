// Usage-based billing: each tenant's metered usage goes to Stripe Billing
// Meters (billing.meterEvents.create). Exactly once, across retries and kills:
//   1. claim: one transaction records a report (our id) and marks the events it
//      covers (usage_events.reported_in), so no event is in two reports;
//   2. send: the meter event's identifier (and the request's idempotency key)
//      is derived from the report id, so sending a report again is a no-op at Stripe;
//   3. record: the report is marked sent.
// A run killed between 2 and 3 leaves the report pending; the next run sends it
// again with the same identifier before claiming anything new.
import { randomUUID } from 'node:crypto';
import type Stripe from 'stripe';
import type { Logger } from '../core/log.ts';
import { withTransaction, type Pool } from '../db/tx.ts';

export interface ReportDeps {
  pool: Pool;
  stripe: Stripe;
  log: Logger;
  /** Test hook: runs after Stripe accepted a report and before it is recorded. */
  afterSend?: (reportId: string) => Promise<void> | void;
}

interface ReportRow {
  tenant_id: string;
  id: string;
  event_name: string;
  stripe_customer_id: string;
  value: string;
  identifier: string;
  created_at: Date;
}

/** Rolls a claim back: nothing billable yet. */
class NothingToClaim extends Error {}

/** Stripe identifiers are at most 100 characters; ours names the report. */
export const meterEventIdentifier = (reportId: string): string => `usage-report-${reportId}`;

async function claimReports(pool: Pool, tenantId: string | undefined): Promise<void> {
  // Tenant, meter and Stripe meter of every mapped meter with unreported events.
  const { rows: pairs } = await pool.query<{
    tenant_id: string;
    meter_id: string;
    event_name: string;
    customer: string;
    aggregation: string;
  }>(
    // Driven by billed tenants (not by every unreported event): a tenant without a
    // Stripe meter mapping costs nothing here however much it tracks.
    `select t.id as tenant_id, pm.meter_id, pm.stripe_event_name as event_name, t.stripe_customer_id as customer, m.aggregation
     from public.tenants t
     join public.plan_meters pm on pm.plan_id = t.plan and pm.stripe_event_name is not null
     join public.meters m on m.id = pm.meter_id and m.aggregation in ('sum', 'count')
     where t.stripe_customer_id is not null and ($1::uuid is null or t.id = $1)
       and exists (select 1 from public.usage_events u where u.tenant_id = t.id and u.meter_id = pm.meter_id and u.reported_in is null)
     order by t.id, pm.meter_id`,
    [tenantId ?? null],
  );
  for (const p of pairs) {
    await withTransaction(pool, async (c) => {
      // One claimer per tenant and meter at a time; the rest skip.
      const { rows: lock } = await c.query<{ ok: boolean }>('select pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) as ok', [
        p.tenant_id,
        p.meter_id,
      ]);
      if (!lock[0]?.ok) return;
      const reportId = randomUUID();
      // Marks and reads in one statement: an event committed meanwhile is either in both or in neither.
      const { rows } = await c.query<{ value: string; correction: boolean }>(
        `update public.usage_events set reported_in = $3 where tenant_id = $1 and meter_id = $2 and reported_in is null
         returning value::text, correction`,
        [p.tenant_id, p.meter_id, reportId],
      );
      const value = rows.reduce((n, r) => n + (p.aggregation === 'count' ? (r.correction ? -1 : 1) : Number(r.value)), 0);
      // A net negative (corrections ahead of new usage) waits for usage to cover it;
      // Stripe meter values are whole numbers, so fractions wait too.
      if (rows.length === 0 || value < 0 || !Number.isInteger(value)) throw new NothingToClaim();
      await c.query(
        `insert into public.stripe_meter_reports (tenant_id, id, meter_id, event_name, stripe_customer_id, value, events, identifier, status, sent_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, case when $6::numeric = 0 then 'sent' else 'pending' end, case when $6::numeric = 0 then now() end)`,
        [p.tenant_id, reportId, p.meter_id, p.event_name, p.customer, String(value), rows.length, meterEventIdentifier(reportId)],
      );
    }).catch((err: unknown) => {
      if (!(err instanceof NothingToClaim)) throw err;
    });
  }
}

/** Sends every pending report (retries first, then the ones just claimed). Returns the reports sent. */
export async function reportUsageToStripe(deps: ReportDeps, opts: { tenantId?: string } = {}): Promise<number> {
  await claimReports(deps.pool, opts.tenantId);
  const { rows } = await deps.pool.query<ReportRow>(
    `select tenant_id, id, event_name, stripe_customer_id, value::text, identifier, created_at
     from public.stripe_meter_reports where status = 'pending' and ($1::uuid is null or tenant_id = $1) order by created_at, id`,
    [opts.tenantId ?? null],
  );
  let sent = 0;
  for (const r of rows) {
    await deps.stripe.billing.meterEvents.create(
      {
        event_name: r.event_name,
        identifier: r.identifier,
        timestamp: Math.floor(r.created_at.getTime() / 1000),
        payload: { stripe_customer_id: r.stripe_customer_id, value: r.value },
      },
      { idempotencyKey: r.identifier },
    );
    await deps.afterSend?.(r.id);
    await deps.pool.query(`update public.stripe_meter_reports set status = 'sent', sent_at = now() where tenant_id = $1 and id = $2`, [
      r.tenant_id,
      r.id,
    ]);
    sent++;
  }
  if (sent > 0) deps.log.info({ reports: sent }, 'usage reported to Stripe meters');
  return sent;
}
