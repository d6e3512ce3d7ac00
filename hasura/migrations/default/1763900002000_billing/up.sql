-- Billing: the Stripe side of a tenant (customer, subscription, period, payment
-- standing), the webhook event store, plan features with per-tenant overrides,
-- and the grace-period job. Safe to run twice (nself runs every up.sql through
-- psql without stopping on errors).

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
-- Billing columns live on the registry row: the resolver, limits and Hasura read
-- them with the tenant, and a webhook changes them in the same transaction that
-- records the event. Only the owner writes them (see grants).
alter table public.tenants
  add column if not exists stripe_customer_id text,
  add column if not exists stripe_subscription_id text,
  add column if not exists subscription_status text
    constraint tenants_subscription_status_check check (subscription_status in (
      'incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused')),
  add column if not exists billing_interval text
    constraint tenants_billing_interval_check check (billing_interval in ('month', 'year')),
  add column if not exists current_period_start timestamptz,
  add column if not exists current_period_end timestamptz,
  add column if not exists cancel_at_period_end boolean not null default false,
  add column if not exists last_payment_at timestamptz,
  -- Payment standing: set when a payment fails, cleared when one succeeds; the
  -- grace job suspends the tenant once grace_ends_at has passed.
  add column if not exists past_due_since timestamptz,
  add column if not exists grace_ends_at timestamptz,
  -- The suspension was made by the grace job (so a payment lifts it); a platform
  -- admin's suspension is never lifted by Stripe. Cleared whenever the tenant
  -- leaves 'suspended' (trigger below).
  add column if not exists billing_suspended boolean not null default false,
  -- Stripe's time (event.created) of the subscription state last applied: an
  -- older event arriving late never rolls the subscription back.
  add column if not exists subscription_state_at timestamptz;

-- Every verified event, stored once. Platform-only: no policy, no grant, so
-- neither app nor hasura sees it. tenant_id is deliberately not a foreign key:
-- the record outlives a hard-deleted tenant, and no global table points into
-- tenant-keyed data (ARCHITECTURE.md §11).
create table if not exists public.stripe_webhooks (
  id bigint generated always as identity primary key,
  event_id text not null,
  type text not null,
  api_version text,
  livemode boolean not null default false,
  tenant_id uuid,
  payload jsonb not null,
  event_created_at timestamptz,
  processed boolean not null default false,
  processed_at timestamptz,
  -- Why processing failed (latest attempt); null once processed.
  error text,
  attempts integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint stripe_webhooks_event_id_key unique (event_id),
  constraint stripe_webhooks_processed_at check (processed = (processed_at is not null))
);

------------------------------------------------------------------------------
-- indexes
------------------------------------------------------------------------------
create unique index if not exists tenants_stripe_customer_id_key on public.tenants (stripe_customer_id);
create unique index if not exists tenants_stripe_subscription_id_key on public.tenants (stripe_subscription_id);
-- The grace job scans only tenants that are behind on payment.
create index if not exists tenants_grace_ends_at_idx on public.tenants (grace_ends_at)
  where past_due_since is not null;

create index if not exists stripe_webhooks_tenant_id_idx on public.stripe_webhooks (tenant_id, created_at);
create index if not exists stripe_webhooks_unprocessed_idx on public.stripe_webhooks (created_at)
  where not processed;

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
alter table public.stripe_webhooks enable row level security;
alter table public.stripe_webhooks force row level security;

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- A tenant's effective features: its plan's features with the per-tenant
-- overrides of tenant_settings.features on top; only boolean values count.
-- The one definition REST, actions and SQL share. Security invoker: under RLS
-- the app sees only its own tenant (another tenant reads as no features).
create or replace function public.tenant_features(p_tenant_id uuid) returns jsonb
language sql stable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb)
  from public.tenants t
  join public.plans p on p.id = t.plan
  left join public.tenant_settings s on s.tenant_id = t.id
  cross join lateral jsonb_each(p.features || coalesce(s.features, '{}'::jsonb)) as f(key, value)
  where t.id = p_tenant_id and jsonb_typeof(f.value) = 'boolean'
$$;
revoke all on function public.tenant_features(uuid) from public;
grant execute on function public.tenant_features(uuid) to app, hasura;

create or replace function public.tenant_has_feature(p_tenant_id uuid, p_feature text) returns boolean
language sql stable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce((public.tenant_features(p_tenant_id) -> p_feature)::boolean, false)
$$;
revoke all on function public.tenant_has_feature(uuid, text) from public;
grant execute on function public.tenant_has_feature(uuid, text) to app, hasura;

-- The grace-period job: tenants whose payment has been failing past their grace
-- period are suspended (resolution then answers 403 on their hosts; the
-- _900_notify trigger invalidates every resolver cache). p_now is the clock, so
-- callers and tests control it. Returns the ids suspended.
create or replace function public.suspend_past_due_tenants(p_now timestamptz default now())
returns setof uuid
language sql
set search_path = pg_catalog, public, pg_temp
as $$
  update public.tenants
  set status = 'suspended', suspended_at = now(), billing_suspended = true
  where past_due_since is not null
    and grace_ends_at <= p_now
    and status in ('trial', 'active')
  returning id
$$;
revoke all on function public.suspend_past_due_tenants(timestamptz) from public;

-- Processed events are kept 30 days for investigation, then purged (weekly job).
create or replace function public.purge_stripe_webhooks(p_older_than interval default interval '30 days')
returns integer
language sql
set search_path = pg_catalog, public, pg_temp
as $$
  with purged as (
    delete from public.stripe_webhooks
    where processed and created_at < now() - p_older_than
    returning 1
  )
  select count(*)::integer from purged
$$;
revoke all on function public.purge_stripe_webhooks(interval) from public;

create or replace function public.tg_tenants__billing_suspension() returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  -- However the tenant leaves 'suspended' (a payment, a platform admin), the
  -- billing mark goes with it, so a later admin suspension is never lifted by Stripe.
  if new.status <> 'suspended' then
    new.billing_suspended := false;
  end if;
  return new;
end
$$;

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
drop trigger if exists _200_billing_suspension on public.tenants;
create trigger _200_billing_suspension before update on public.tenants
  for each row execute function public.tg_tenants__billing_suspension();

drop trigger if exists _100_timestamps on public.stripe_webhooks;
create trigger _100_timestamps before insert or update on public.stripe_webhooks
  for each row execute function public.tg__timestamps();

------------------------------------------------------------------------------
-- grants
------------------------------------------------------------------------------
-- app and hasura keep reading the tenant row (billing state included: nothing
-- here is a secret) but never write billing columns: only Stripe events, through
-- the owner, do.
revoke update (stripe_customer_id, stripe_subscription_id, subscription_status, billing_interval,
               current_period_start, current_period_end, cancel_at_period_end, last_payment_at,
               past_due_since, grace_ends_at, billing_suspended, subscription_state_at)
  on public.tenants from app, hasura;
revoke all on public.stripe_webhooks from public, app, hasura;
