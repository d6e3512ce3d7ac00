// Billing services shared by every transport (REST routes, Hasura actions):
// checkout, the customer portal, the billing summary and the grace-period job.
// Callers pass an actor whose role they have verified (REST: assertMember;
// actions: the session variables the auth webhook answered).
import type Stripe from 'stripe';
import type { Env } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import { asSystem, asTenant, type Client, type Pool } from '../db/tx.ts';
import { roleRank } from '../auth/tokens.ts';
import type { TenantStatus } from '../tenants/records.ts';
import { isLive } from './lifecycle.ts';
import { priceFor, type BillingInterval } from './prices.ts';
import { checkoutInputSchema, portalInputSchema, type CheckoutInput, type PortalInput, type SubscriptionStatus } from './schemas.ts';
import { callStripe, requireStripe, type BillingDeps } from './stripe-client.ts';
import { parseBody } from '../http/handlers.ts';
import type { MemberActor } from '../core/actor.ts';

interface TenantForBilling {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  custom_domain: string | null;
  custom_domain_verified_at: Date | null;
  trial_ends_at: Date | null;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  subscription_status: SubscriptionStatus | null;
}

const TENANT_COLUMNS = `id, slug, name, status, custom_domain, custom_domain_verified_at, trial_ends_at,
  stripe_customer_id, stripe_subscription_id, subscription_status`;

// Stripe refuses a trial_end closer than 48 hours.
const MIN_TRIAL_MS = 48 * 3_600_000;

function assertBillingAdmin(actor: MemberActor): void {
  if (roleRank(actor.role) < roleRank('admin')) {
    throw new AppError('FORBIDDEN', "Billing is managed by the tenant's owners and admins");
  }
}

/** The addresses a redirect may go back to: the tenant's own hosts, nothing else. */
function tenantOrigins(env: Env, t: TenantForBilling): { host: string; protocols: string[] }[] {
  const dev = env.NODE_ENV === 'development';
  const origins = [
    { host: `${t.slug}.${env.BASE_DOMAIN}`, protocols: dev && env.BASE_DOMAIN === 'localhost' ? ['http:', 'https:'] : ['https:'] },
  ];
  if (dev && env.BASE_DOMAIN !== 'localhost') origins.push({ host: `${t.slug}.localhost`, protocols: ['http:', 'https:'] });
  if (t.custom_domain && t.custom_domain_verified_at) origins.push({ host: t.custom_domain, protocols: ['https:'] });
  if (env.DISABLE_MULTI_TENANCY) origins.push({ host: env.BASE_DOMAIN, protocols: ['https:'] });
  return origins;
}

function assertTenantUrl(env: Env, tenant: TenantForBilling, field: string, raw: string): void {
  const origins = tenantOrigins(env, tenant);
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  const ok =
    url !== undefined &&
    url.username === '' &&
    url.password === '' &&
    origins.some((o) => o.host === url.hostname && o.protocols.includes(url.protocol));
  if (!ok) {
    const allowed = origins.map((o) => `${o.protocols.includes('http:') ? 'http(s)' : 'https'}://${o.host}`);
    const message = `${field} must be an address of this tenant: ${allowed.join(' or ')}`;
    throw new AppError('VALIDATION_FAILED', message, { issues: [{ path: field, message }], allowed });
  }
}

function assertOpen(t: TenantForBilling): void {
  if (t.status === 'cancelled' || t.status === 'archived') throw new AppError('TENANT_GONE', 'This tenant has been closed');
}

async function loadTenant(client: Client, tenantId: string, lock: boolean): Promise<TenantForBilling> {
  const { rows } = await client.query<TenantForBilling>(
    `select ${TENANT_COLUMNS} from public.tenants where id = $1${lock ? ' for update' : ''}`,
    [tenantId],
  );
  if (!rows[0]) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  return rows[0];
}

interface PlanRow {
  id: string;
  trial_days: number;
  self_serve: boolean;
  paid: boolean;
}

/** Subscription parameters for a trial, if the tenant may have one (never subscribed before). */
function trialFor(
  plan: PlanRow,
  t: TenantForBilling,
  now: number,
): Pick<Stripe.Checkout.SessionCreateParams.SubscriptionData, 'trial_period_days' | 'trial_end'> {
  if (t.stripe_subscription_id !== null || plan.trial_days <= 0) return {};
  if (t.trial_ends_at === null) return { trial_period_days: plan.trial_days };
  // A sign-up trial carries over (what is left of it), never restarts.
  return t.trial_ends_at.getTime() - now >= MIN_TRIAL_MS ? { trial_end: Math.floor(t.trial_ends_at.getTime() / 1000) } : {};
}

/**
 * Starts a Stripe Checkout for a subscription to `plan`. The tenant's Stripe
 * customer is created on first use (once: idempotency key from the tenant id,
 * under the tenant row lock) and stored before the session is created.
 */
export async function createCheckoutSession(
  deps: BillingDeps,
  actor: MemberActor,
  rawInput: CheckoutInput,
): Promise<{ sessionId: string; url: string }> {
  assertBillingAdmin(actor);
  const stripe = requireStripe(deps);
  const input = parseBody(checkoutInputSchema, rawInput, 'checkout input');
  const interval: BillingInterval = input.interval;

  const { plan, price, tenant, customerId } = await asSystem(
    deps.pool,
    async (client) => {
      const plan = (
        await client.query<PlanRow>(
          `select id, trial_days, self_serve, coalesce(price_monthly_cents, 0) > 0 as paid from public.plans where id = $1`,
          [input.plan],
        )
      ).rows[0];
      if (!plan) throw new AppError('PLAN_NOT_AVAILABLE', `Unknown plan '${input.plan}'`);
      if (!plan.self_serve) throw new AppError('PLAN_NOT_AVAILABLE', `The ${plan.id} plan is arranged with sales, not through checkout`);
      if (!plan.paid) throw new AppError('PLAN_NOT_AVAILABLE', `The ${plan.id} plan needs no checkout`);
      const price = priceFor(deps.env, plan.id, interval);

      const tenant = await loadTenant(client, actor.tenantId, true);
      assertOpen(tenant);
      assertTenantUrl(deps.env, tenant, 'successUrl', input.successUrl);
      assertTenantUrl(deps.env, tenant, 'cancelUrl', input.cancelUrl);
      if (isLive(tenant.subscription_status)) {
        throw new AppError('CONFLICT', 'This tenant already has a subscription; change or cancel it in the billing portal', {
          subscriptionStatus: tenant.subscription_status,
        });
      }
      let customerId = tenant.stripe_customer_id;
      if (customerId === null) {
        const customer = await callStripe(deps.log, 'customers.create', () =>
          stripe.customers.create(
            { name: tenant.name, metadata: { tenant_id: tenant.id, tenant_slug: tenant.slug } },
            { idempotencyKey: `tenant-${tenant.id}-customer` },
          ),
        );
        customerId = customer.id;
        await client.query('update public.tenants set stripe_customer_id = $2 where id = $1', [tenant.id, customerId]);
      }
      return { plan, price, tenant, customerId };
    },
    { userId: actor.userId },
  );

  const metadata = { tenant_id: tenant.id, plan: plan.id, interval };
  const session = await callStripe(deps.log, 'checkout.sessions.create', () =>
    stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customerId,
      client_reference_id: tenant.id,
      line_items: [{ price, quantity: 1 }],
      success_url: input.successUrl,
      cancel_url: input.cancelUrl,
      metadata,
      subscription_data: { metadata, ...trialFor(plan, tenant, Date.now()) },
    }),
  );
  if (!session.url) throw new AppError('PAYMENT_PROVIDER_ERROR', 'The payment provider returned no checkout address');
  deps.log.info({ tenantId: tenant.id, userId: actor.userId, plan: plan.id, interval, sessionId: session.id }, 'checkout started');
  return { sessionId: session.id, url: session.url };
}

/** A Stripe customer portal session (payment methods, invoices, plan changes, cancellation). */
export async function createPortalSession(deps: BillingDeps, actor: MemberActor, rawInput: PortalInput): Promise<{ url: string }> {
  assertBillingAdmin(actor);
  const stripe = requireStripe(deps);
  const input = parseBody(portalInputSchema, rawInput, 'portal input');
  const tenant = await asSystem(deps.pool, (client) => loadTenant(client, actor.tenantId, false), { userId: actor.userId });
  assertOpen(tenant);
  assertTenantUrl(deps.env, tenant, 'returnUrl', input.returnUrl);
  const customer = tenant.stripe_customer_id;
  if (customer === null) {
    throw new AppError('CONFLICT', 'This tenant has no billing account yet; subscribe through checkout first');
  }
  const session = await callStripe(deps.log, 'billingPortal.sessions.create', () =>
    stripe.billingPortal.sessions.create({ customer, return_url: input.returnUrl }),
  );
  return { url: session.url };
}

export interface BillingSummary {
  plan: string;
  interval: BillingInterval | null;
  subscriptionStatus: SubscriptionStatus | null;
  currentPeriodStart: string | null;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  trialEndsAt: string | null;
  pastDue: boolean;
  graceEndsAt: string | null;
  lastPaymentAt: string | null;
  hasBillingAccount: boolean;
  /** The plan's features with the tenant's overrides (public.tenant_features). */
  features: Record<string, boolean>;
  /** Notices for the owners (e.g. a trial about to end), newest first. */
  notices: BillingNotice[];
}

export interface BillingNotice {
  kind: string;
  message: string;
  data: Record<string, unknown>;
  createdAt: string;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The tenant's plan, subscription and features, read as the app role under RLS. */
export async function getBilling(deps: Pick<BillingDeps, 'pool'>, actor: MemberActor): Promise<BillingSummary> {
  const { row, notices } = await asTenant(deps.pool, { tenantId: actor.tenantId, userId: actor.userId, dbRole: 'app' }, async (client) => ({
    notices: (
      await client.query<{ kind: string; message: string; data: Record<string, unknown>; created_at: Date }>(
        'select kind, message, data, created_at from public.tenant_notices where tenant_id = $1 order by created_at desc limit 20',
        [actor.tenantId],
      )
    ).rows,
    row: (
      await client.query<{
        plan: string;
        billing_interval: BillingInterval | null;
        subscription_status: SubscriptionStatus | null;
        current_period_start: Date | null;
        current_period_end: Date | null;
        cancel_at_period_end: boolean;
        trial_ends_at: Date | null;
        past_due_since: Date | null;
        grace_ends_at: Date | null;
        last_payment_at: Date | null;
        has_billing_account: boolean;
        features: Record<string, boolean>;
      }>(
        `select plan, billing_interval, subscription_status, current_period_start, current_period_end,
                cancel_at_period_end, trial_ends_at, past_due_since, grace_ends_at, last_payment_at,
                stripe_customer_id is not null as has_billing_account, public.tenant_features(id) as features
         from public.tenants where id = $1`,
        [actor.tenantId],
      )
    ).rows[0],
  }));
  if (!row) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  return {
    plan: row.plan,
    interval: row.billing_interval,
    subscriptionStatus: row.subscription_status,
    currentPeriodStart: iso(row.current_period_start),
    currentPeriodEnd: iso(row.current_period_end),
    cancelAtPeriodEnd: row.cancel_at_period_end,
    trialEndsAt: iso(row.trial_ends_at),
    pastDue: row.past_due_since !== null,
    graceEndsAt: iso(row.grace_ends_at),
    lastPaymentAt: iso(row.last_payment_at),
    hasBillingAccount: row.has_billing_account,
    features: row.features,
    notices: notices.map((n) => ({ kind: n.kind, message: n.message, data: n.data, createdAt: n.created_at.toISOString() })),
  };
}

/**
 * The grace-period job (a Hasura cron trigger or the CLI runs it): tenants whose
 * payment has failed for longer than BILLING_GRACE_DAYS are suspended. `now` is
 * the job's clock. Returns the ids suspended.
 */
export async function suspendPastDueTenants(deps: { pool: Pool; log: Logger }, now: Date = new Date()): Promise<string[]> {
  const ids = await asSystem(
    deps.pool,
    async (client) =>
      (await client.query<{ id: string }>('select id from public.suspend_past_due_tenants($1) as id', [now])).rows.map((r) => r.id),
    { kind: 'cron' },
  );
  for (const tenantId of ids) deps.log.warn({ tenantId }, 'tenant suspended: payment overdue past its grace period');
  return ids;
}
