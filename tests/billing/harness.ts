// Shared set-up for the billing suites: a test database, the actions server
// pointed at the Stripe double, signed webhook delivery and a view of a tenant's
// billing columns.
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request, type HttpResponse } from '../support/http.ts';
import { makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { startStripeDouble, type StripeDouble } from '../support/stripe-double.ts';
import { signEvent } from '../support/stripe-events.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import type { TenantRole } from '../../actions-server/src/auth/tokens.ts';
import type { Isolation } from '../../actions-server/src/tenants/records.ts';

export const WEBHOOK_SECRET = 'whsec_billing_suite_secret';
export const PRICE = {
  proMonth: 'price_test_pro_month',
  proYear: 'price_test_pro_year',
  enterpriseMonth: 'price_test_enterprise_month',
} as const;

export interface BillingHarness {
  db: TestDb;
  srv: RunningServer;
  double: StripeDouble;
  close(): Promise<void>;
}

// STRIPE_PRICE_ENTERPRISE_YEARLY is deliberately left unset: checkout for it must say so.
export function billingEnv(double: StripeDouble): Record<string, string> {
  return {
    STRIPE_SECRET_KEY: 'sk_test_billing_suite',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_API_BASE: double.url,
    STRIPE_PRICE_PRO_MONTHLY: PRICE.proMonth,
    STRIPE_PRICE_PRO_YEARLY: PRICE.proYear,
    STRIPE_PRICE_ENTERPRISE_MONTHLY: PRICE.enterpriseMonth,
    BILLING_GRACE_DAYS: '7',
  };
}

export async function startBillingHarness(extraEnv: Record<string, string> = {}): Promise<BillingHarness> {
  const db = await createTestDb();
  const double = await startStripeDouble();
  const srv = await startTestServer(db, { ...billingEnv(double), ...extraEnv });
  return {
    db,
    srv,
    double,
    async close() {
      await srv.close();
      await double.close();
      await db.close();
    },
  };
}

export const hostOf = (slug: string): string => `${slug}.saas.test`;

export async function login(h: BillingHarness, made: MadeTenant): Promise<string> {
  const res = await request<{ token: string }>(h.srv.url, '/api/auth/login', {
    host: hostOf(made.tenant.slug),
    body: { email: made.ownerEmail, password: OWNER_PASSWORD },
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  return res.body.token;
}

/** Adds a person to a tenant with `role` and returns a token for them (issued by the server's own token service). */
export async function addMember(h: BillingHarness, tenantId: string, email: string, role: TenantRole): Promise<string> {
  const { rows } = await h.db.pool.query<{ id: string }>('insert into public.identities (email, name) values ($1, $2) returning id', [
    email,
    email,
  ]);
  const userId = rows[0]!.id;
  await h.db.pool.query('insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, $3)', [tenantId, userId, role]);
  return h.srv.ctx.tokens.sign({ userId, tenantId, role }).token;
}

export async function tenantWithOwner(
  h: BillingHarness,
  slug: string,
  opts: { plan?: string; trial?: boolean; isolation?: Isolation } = {},
) {
  const made = await makeTenant(h.db, slug, opts);
  return { made, id: made.tenant.id, token: await login(h, made) };
}

export interface DeliverOptions {
  secret?: string;
  /** Signature timestamp in seconds (default now). */
  timestamp?: number;
  /** Changes the body after it was signed. */
  tamper?: (payload: string) => string;
}

/** What the webhook answers: its receipt (stored, duplicate), or the error shape. */
export interface WebhookAnswer {
  received?: boolean;
  status?: string;
  eventId?: string;
  error?: { code: string; message: string };
}

/** Signs `event` (an object, or an already serialised body) and POSTs it as Stripe would. */
export function deliver(h: BillingHarness, event: object | string, opts: DeliverOptions = {}): Promise<HttpResponse<WebhookAnswer>> {
  const { payload, header } = signEvent(event, opts.secret ?? WEBHOOK_SECRET, opts.timestamp);
  return request<WebhookAnswer>(h.srv.url, '/api/billing/webhook', {
    rawBody: opts.tamper ? opts.tamper(payload) : payload,
    headers: { 'stripe-signature': header },
  });
}

/** What became of a delivered event once the job runner ran: processed, ignored, or duplicate (stored before). */
export interface AppliedEvent {
  status: 'processed' | 'ignored' | 'duplicate';
  tenantId: string | null;
}

/** The applied outcome of a stored event (the applier records it on the row). */
export async function outcomeOf(h: BillingHarness, eventId: string): Promise<AppliedEvent> {
  const { rows } = await h.db.pool.query<{ outcome: 'processed' | 'ignored' | null; tenant_id: string | null; error: string | null }>(
    'select outcome, tenant_id, error from public.stripe_webhooks where event_id = $1',
    [eventId],
  );
  const row = rows[0];
  if (!row?.outcome) throw new Error(`event ${eventId} not applied: ${row ? (row.error ?? 'still pending') : 'not stored'}`);
  return { status: row.outcome, tenantId: row.tenant_id };
}

/**
 * Delivers, insists on the acknowledgement (202 stored, 200 duplicate), runs the
 * due jobs (the applier among them) and returns what became of the event, so a
 * broken step fails where it happens.
 */
export async function deliverOk(h: BillingHarness, event: { id: string }): Promise<AppliedEvent> {
  const res = await deliver(h, event);
  if (res.status !== 202 && res.status !== 200) throw new Error(`webhook answered ${res.status}: ${res.text}`);
  await runDueJobs(h.srv.ctx);
  if (res.body.status === 'duplicate') return { status: 'duplicate', tenantId: (await outcomeOf(h, event.id)).tenantId };
  return outcomeOf(h, event.id);
}

export interface BillingState {
  status: string;
  plan: string;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  subscription_status: string | null;
  billing_interval: string | null;
  current_period_start: Date | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  trial_ends_at: Date | null;
  last_payment_at: Date | null;
  past_due_since: Date | null;
  grace_ends_at: Date | null;
  suspended_at: Date | null;
  billing_suspended: boolean;
  subscription_state_at: Date | null;
}

export async function billingState(h: BillingHarness, tenantId: string): Promise<BillingState> {
  const { rows } = await h.db.pool.query<BillingState>(
    `select status, plan, stripe_customer_id, stripe_subscription_id, subscription_status, billing_interval,
            current_period_start, current_period_end, cancel_at_period_end, trial_ends_at, last_payment_at,
            past_due_since, grace_ends_at, suspended_at, billing_suspended, subscription_state_at
     from public.tenants where id = $1`,
    [tenantId],
  );
  if (!rows[0]) throw new Error(`no tenant ${tenantId}`);
  return rows[0];
}

export async function storedEvents(h: BillingHarness, eventId?: string) {
  const { rows } = await h.db.pool.query<{
    event_id: string;
    type: string;
    tenant_id: string | null;
    processed: boolean;
    attempts: number;
    error: string | null;
  }>(
    `select event_id, type, tenant_id, processed, attempts, error from public.stripe_webhooks
     where $1::text is null or event_id = $1 order by id`,
    [eventId ?? null],
  );
  return rows;
}

export const at = (seconds: number): Date => new Date(seconds * 1000);
