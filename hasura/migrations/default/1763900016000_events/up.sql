-- Events in and out: product meters with an ingestion API (append-only usage
-- events, exactly once per idempotency key, caps per plan and tenant), what was
-- reported to Stripe's billing meters, tenant webhooks (endpoints, an outbox of
-- events emitted by triggers, deliveries and their attempts), and analytics /
-- connector events. Every tenant-keyed table leads its keys with tenant_id and
-- is under forced RLS (enable_tenant_rls), shaped for Citus like the others.
-- Safe to run twice.

------------------------------------------------------------------------------
-- tables: meters (global reference data, written by platform admins)
------------------------------------------------------------------------------
create table if not exists public.meters (
  id text primary key check (id ~ '^[a-z][a-z0-9_-]{1,62}$'),
  name text not null check (length(btrim(name)) between 1 and 200),
  -- sum of event values, number of events, or the largest value in the period
  aggregation text not null default 'sum' check (aggregation in ('sum', 'count', 'max')),
  unit text not null default 'unit' check (length(btrim(unit)) between 1 and 50),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- A plan's cap on a meter (null cap = unlimited; hard refuses, soft records
-- overage) and the Stripe billing meter (event name) its usage is reported to.
create table if not exists public.plan_meters (
  plan_id text not null references public.plans (id) on delete cascade,
  meter_id text not null references public.meters (id) on delete cascade,
  cap numeric check (cap is null or cap >= 0),
  enforcement text not null default 'hard' check (enforcement in ('hard', 'soft')),
  stripe_event_name text check (stripe_event_name ~ '^[A-Za-z0-9_.:-]{1,100}$'),
  updated_at timestamptz not null default now(),
  primary key (plan_id, meter_id)
);

------------------------------------------------------------------------------
-- tables: tenant-keyed
------------------------------------------------------------------------------
-- Per-tenant cap overrides, beside tenant_settings.limit_overrides.
create table if not exists public.tenant_meter_caps (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  meter_id text not null references public.meters (id) on delete cascade,
  cap numeric check (cap is null or cap >= 0),
  enforcement text not null default 'hard' check (enforcement in ('hard', 'soft')),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, meter_id)
);

-- Append-only: a correction is a negative event (correction = true), audited.
create table if not exists public.usage_events (
  tenant_id uuid not null default public.current_tenant_id() references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  meter_id text not null references public.meters (id) on delete restrict,
  user_id text check (length(user_id) between 1 and 200),
  value numeric not null,
  properties jsonb not null default '{}' check (jsonb_typeof(properties) = 'object'),
  occurred_at timestamptz not null,
  period text not null check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  idempotency_key text not null check (length(idempotency_key) between 1 and 255),
  -- SHA-256 of the event as first sent: a reused key with another body is refused
  request_hash text not null,
  correction boolean not null default false,
  reason text check (length(reason) <= 500),
  actor_id uuid,
  created_at timestamptz not null default clock_timestamp(),
  -- set once by the Stripe reporting job (the owner), never by request roles
  reported_in uuid,
  primary key (tenant_id, id),
  constraint usage_events_idempotency_key unique (tenant_id, idempotency_key),
  constraint usage_events_sign check (correction or value >= 0)
);

-- Running totals per tenant, meter and month, updated with each batch under a
-- row lock (the cap check and the insert are one serialised step per meter).
create table if not exists public.usage_meter_totals (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  meter_id text not null references public.meters (id) on delete cascade,
  period text not null check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  -- the meter's aggregation applied to the period's events
  usage numeric not null default 0,
  value_sum numeric not null default 0,
  event_count bigint not null default 0,
  value_max numeric,
  overage numeric not null default 0,
  updated_at timestamptz not null default now(),
  primary key (tenant_id, meter_id, period)
);

-- Each batch of usage sent to a Stripe meter; identifier is derived from our id.
create table if not exists public.stripe_meter_reports (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  meter_id text not null references public.meters (id) on delete restrict,
  event_name text not null,
  stripe_customer_id text not null,
  value numeric not null check (value >= 0),
  events integer not null,
  identifier text not null,
  status text not null default 'pending' check (status in ('pending', 'sent')),
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  primary key (tenant_id, id),
  constraint stripe_meter_reports_identifier_key unique (tenant_id, identifier)
);

create table if not exists public.webhook_endpoints (
  tenant_id uuid not null default public.current_tenant_id() references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  url text not null check (length(url) >= 8 and length(url) <= 2000 and url ~ '^https?://'),
  description text check (length(description) <= 500),
  event_types text[] not null check (cardinality(event_types) between 1 and 50),
  -- Standard Webhooks signing secret (whsec_...); read only by the owner (the delivery job)
  secret text not null,
  enabled boolean not null default true,
  disabled_at timestamptz,
  disabled_reason text,
  -- first failure since the last success: past 5 days the endpoint is disabled
  failing_since timestamptz,
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

-- The outbox: one row per event that at least one endpoint subscribed to.
create table if not exists public.webhook_events (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  type text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

create table if not exists public.webhook_deliveries (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  endpoint_id uuid not null,
  event_id uuid not null,
  event_type text not null,
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed', 'cancelled')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- a worker that claimed the delivery holds it until then (a killed one lets it go)
  locked_until timestamptz,
  last_status_code integer,
  last_error text,
  last_latency_ms integer,
  replay_of uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  primary key (tenant_id, id),
  constraint webhook_deliveries_endpoint_fkey foreign key (tenant_id, endpoint_id)
    references public.webhook_endpoints (tenant_id, id) on delete cascade,
  constraint webhook_deliveries_event_fkey foreign key (tenant_id, event_id)
    references public.webhook_events (tenant_id, id) on delete cascade
);

create table if not exists public.webhook_delivery_attempts (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  delivery_id uuid not null,
  attempt integer not null check (attempt > 0),
  status_code integer,
  latency_ms integer not null,
  error text,
  created_at timestamptz not null default now(),
  primary key (tenant_id, delivery_id, attempt),
  constraint webhook_delivery_attempts_delivery_fkey foreign key (tenant_id, delivery_id)
    references public.webhook_deliveries (tenant_id, id) on delete cascade
);

create table if not exists public.analytics_events (
  tenant_id uuid not null default public.current_tenant_id() references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  event text not null check (length(btrim(event)) between 1 and 200),
  distinct_id text check (length(distinct_id) between 1 and 200),
  properties jsonb not null default '{}' check (jsonb_typeof(properties) = 'object'),
  occurred_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

create table if not exists public.connector_events (
  tenant_id uuid not null default public.current_tenant_id() references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  connector text not null check (length(btrim(connector)) between 1 and 100),
  event text not null check (length(btrim(event)) between 1 and 200),
  payload jsonb not null default '{}' check (jsonb_typeof(payload) = 'object'),
  occurred_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

------------------------------------------------------------------------------
-- indexes (each led by tenant_id)
------------------------------------------------------------------------------
create index if not exists usage_events_unreported_idx on public.usage_events (tenant_id, meter_id) where reported_in is null;
create index if not exists tenant_meter_caps_meter_idx on public.tenant_meter_caps (tenant_id, meter_id);
create index if not exists usage_meter_totals_meter_idx on public.usage_meter_totals (tenant_id, meter_id);
create index if not exists stripe_meter_reports_pending_idx on public.stripe_meter_reports (tenant_id, status) where status = 'pending';
create index if not exists webhook_deliveries_due_idx on public.webhook_deliveries (tenant_id, next_attempt_at) where status = 'pending';
create index if not exists webhook_deliveries_endpoint_idx on public.webhook_deliveries (tenant_id, endpoint_id, created_at);
create index if not exists webhook_deliveries_event_idx on public.webhook_deliveries (tenant_id, event_id);
create index if not exists analytics_events_occurred_idx on public.analytics_events (tenant_id, occurred_at);
create index if not exists connector_events_occurred_idx on public.connector_events (tenant_id, connector, occurred_at);
-- the delivery job looks for due work across tenants
create index if not exists webhook_deliveries_due_all_idx on public.webhook_deliveries (next_attempt_at) where status = 'pending';

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
alter table public.meters enable row level security;
alter table public.meters force row level security;
drop policy if exists meters_read on public.meters;
create policy meters_read on public.meters for select to app, hasura using (true);
alter table public.plan_meters enable row level security;
alter table public.plan_meters force row level security;
drop policy if exists plan_meters_read on public.plan_meters;
create policy plan_meters_read on public.plan_meters for select to app, hasura using (true);

select public.enable_tenant_rls('public.tenant_meter_caps');
select public.enable_tenant_rls('public.usage_events');
select public.enable_tenant_rls('public.usage_meter_totals');
select public.enable_tenant_rls('public.stripe_meter_reports');
select public.enable_tenant_rls('public.webhook_endpoints');
select public.enable_tenant_rls('public.webhook_events');
select public.enable_tenant_rls('public.webhook_deliveries');
select public.enable_tenant_rls('public.webhook_delivery_attempts');
select public.enable_tenant_rls('public.analytics_events');
select public.enable_tenant_rls('public.connector_events');

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- The cap that applies to a tenant's meter: its override, else its plan's.
-- No row at all: unlimited (cap null).
create or replace function public.tenant_meter_cap(p_tenant_id uuid, p_meter_id text)
returns table (cap numeric, enforcement text, capped boolean)
language sql stable security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select c.cap, c.enforcement, true from public.tenant_meter_caps c
  where c.tenant_id = p_tenant_id and c.meter_id = p_meter_id
  union all
  select pm.cap, pm.enforcement, true from public.tenants t
  join public.plan_meters pm on pm.plan_id = t.plan and pm.meter_id = p_meter_id
  where t.id = p_tenant_id
    and not exists (select 1 from public.tenant_meter_caps c where c.tenant_id = p_tenant_id and c.meter_id = p_meter_id)
  limit 1
$$;
revoke all on function public.tenant_meter_cap(uuid, text) from public;
grant execute on function public.tenant_meter_cap(uuid, text) to app;

-- Emits a tenant event: stored in the outbox and queued for every enabled
-- endpoint of the tenant subscribed to its type, in the caller's transaction
-- (so only committed changes are ever announced). Nothing is stored when no
-- endpoint listens.
create or replace function public.webhook_emit(p_tenant_id uuid, p_type text, p_data jsonb)
returns void
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_event_id uuid := gen_random_uuid();
begin
  if p_tenant_id is null or not exists (
    select 1 from public.webhook_endpoints e
    where e.tenant_id = p_tenant_id and e.enabled and p_type = any (e.event_types)
  ) then
    return;
  end if;
  insert into public.webhook_events (tenant_id, id, type, payload)
  values (p_tenant_id, v_event_id, p_type, jsonb_build_object(
    'type', p_type,
    'timestamp', to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'data', coalesce(p_data, '{}'::jsonb) || jsonb_build_object('tenant_id', p_tenant_id)));
  insert into public.webhook_deliveries (tenant_id, endpoint_id, event_id, event_type)
  select e.tenant_id, e.id, v_event_id, p_type
  from public.webhook_endpoints e
  where e.tenant_id = p_tenant_id and e.enabled and p_type = any (e.event_types);
  -- Wake the delivery job (graphile-worker, when installed); the periodic sweep covers the rest.
  if to_regprocedure('graphile_worker.add_job(text, json, text, timestamptz, integer, text, integer, text[], text)') is not null then
    perform graphile_worker.add_job('webhooks.deliver', '{}'::json, job_key => 'webhooks.deliver:due', job_key_mode => 'preserve_run_at');
  end if;
end
$$;
revoke all on function public.webhook_emit(uuid, text, jsonb) from public;

-- tenant.updated and subscription.changed
create or replace function public.tg_tenants__webhooks() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if (new.name, new.branding, new.custom_domain, new.custom_domain_verified_at, new.status)
     is distinct from (old.name, old.branding, old.custom_domain, old.custom_domain_verified_at, old.status) then
    perform public.webhook_emit(new.id, 'tenant.updated', jsonb_build_object(
      'name', new.name, 'slug', new.slug, 'status', new.status, 'branding', new.branding,
      'custom_domain', new.custom_domain));
  end if;
  if (new.plan, new.subscription_status, new.billing_interval, new.stripe_subscription_id, new.cancel_at_period_end, new.current_period_end)
     is distinct from (old.plan, old.subscription_status, old.billing_interval, old.stripe_subscription_id, old.cancel_at_period_end, old.current_period_end) then
    perform public.webhook_emit(new.id, 'subscription.changed', jsonb_build_object(
      'plan', new.plan, 'previous_plan', old.plan, 'status', new.subscription_status,
      'previous_status', old.subscription_status, 'interval', new.billing_interval,
      'cancel_at_period_end', new.cancel_at_period_end, 'current_period_end', new.current_period_end));
  end if;
  return null;
end
$$;

create or replace function public.tg_tenant_settings__webhooks() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if new.settings is distinct from old.settings then
    perform public.webhook_emit(new.tenant_id, 'tenant.updated', jsonb_build_object('settings', new.settings));
  end if;
  return null;
end
$$;

-- member.added / member.removed / member.role_changed, whatever path changed the membership
create or replace function public.tg_memberships__webhooks() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    perform public.webhook_emit(new.tenant_id, 'member.added', jsonb_build_object('user_id', new.identity_id, 'role', new.role));
  elsif tg_op = 'DELETE' then
    perform public.webhook_emit(old.tenant_id, 'member.removed', jsonb_build_object('user_id', old.identity_id, 'role', old.role));
  elsif new.role is distinct from old.role then
    perform public.webhook_emit(new.tenant_id, 'member.role_changed',
      jsonb_build_object('user_id', new.identity_id, 'role', new.role, 'previous_role', old.role));
  end if;
  return null;
end
$$;

create or replace function public.tg_tenant_invitations__webhooks() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if new.accepted_at is not null and old.accepted_at is null then
    perform public.webhook_emit(new.tenant_id, 'invitation.accepted', jsonb_build_object(
      'invitation_id', new.id, 'email', new.email, 'role', new.role, 'user_id', new.accepted_by));
  end if;
  return null;
end
$$;

-- usage.threshold_reached when a capped meter's usage crosses 80% or 100% of its cap
create or replace function public.tg_usage_meter_totals__thresholds() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_cap record;
  v_old numeric := case when tg_op = 'UPDATE' then old.usage else 0 end;
  v_pct integer;
begin
  if new.usage <= v_old then
    return null;
  end if;
  select * into v_cap from public.tenant_meter_cap(new.tenant_id, new.meter_id);
  if v_cap.cap is null or v_cap.cap <= 0 then
    return null;
  end if;
  foreach v_pct in array array[80, 100] loop
    if v_old < v_cap.cap * v_pct / 100 and new.usage >= v_cap.cap * v_pct / 100 then
      perform public.webhook_emit(new.tenant_id, 'usage.threshold_reached', jsonb_build_object(
        'meter_id', new.meter_id, 'period', new.period, 'threshold_percent', v_pct,
        'usage', new.usage, 'cap', v_cap.cap, 'enforcement', v_cap.enforcement));
    end if;
  end loop;
  return null;
end
$$;

-- A correction (negative event) leaves an audit entry in the tenant's chain.
create or replace function public.tg_usage_events__audit_correction() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform public.audit_append(new.tenant_id, 'usage.corrected', 'usage_event', new.id::text, null,
    jsonb_build_object('meter_id', new.meter_id, 'value', new.value, 'reason', new.reason,
                       'idempotency_key', new.idempotency_key, 'period', new.period));
  return null;
end
$$;

revoke all on function public.tg_tenants__webhooks() from public;
revoke all on function public.tg_tenant_settings__webhooks() from public;
revoke all on function public.tg_memberships__webhooks() from public;
revoke all on function public.tg_tenant_invitations__webhooks() from public;
revoke all on function public.tg_usage_meter_totals__thresholds() from public;
revoke all on function public.tg_usage_events__audit_correction() from public;

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
drop trigger if exists _100_timestamps on public.meters;
create trigger _100_timestamps before insert or update on public.meters
  for each row execute function public.tg__timestamps();
drop trigger if exists _100_timestamps on public.plan_meters;
create trigger _100_timestamps before insert or update on public.plan_meters
  for each row execute function public.tg__timestamps();
drop trigger if exists _100_timestamps on public.tenant_meter_caps;
create trigger _100_timestamps before insert or update on public.tenant_meter_caps
  for each row execute function public.tg__timestamps();
drop trigger if exists _100_timestamps on public.webhook_endpoints;
create trigger _100_timestamps before insert or update on public.webhook_endpoints
  for each row execute function public.tg__timestamps();
drop trigger if exists _100_timestamps on public.webhook_deliveries;
create trigger _100_timestamps before insert or update on public.webhook_deliveries
  for each row execute function public.tg__timestamps();

drop trigger if exists _010_append_only on public.usage_events;
create trigger _010_append_only before update or delete on public.usage_events
  for each row execute function public.tg__append_only();

drop trigger if exists _900_audit_correction on public.usage_events;
create trigger _900_audit_correction after insert on public.usage_events
  for each row when (new.correction) execute function public.tg_usage_events__audit_correction();

drop trigger if exists _900_audit on public.tenant_meter_caps;
create trigger _900_audit after insert or update or delete on public.tenant_meter_caps
  for each row execute function public.tg__audit('entity=meter_cap', 'tenant=tenant_id', 'key=meter_id', 'ignore=updated_at');

drop trigger if exists _900_audit on public.webhook_endpoints;
create trigger _900_audit after insert or update or delete on public.webhook_endpoints
  for each row execute function public.tg__audit(
    'entity=webhook_endpoint', 'tenant=tenant_id', 'key=id', 'ignore=created_at,updated_at,failing_since',
    'redact=secret', 'group.disabled=enabled,+disabled_at,+disabled_reason');

drop trigger if exists _950_webhooks on public.usage_meter_totals;
create trigger _950_webhooks after insert or update of usage on public.usage_meter_totals
  for each row execute function public.tg_usage_meter_totals__thresholds();
drop trigger if exists _950_webhooks on public.tenants;
create trigger _950_webhooks after update on public.tenants
  for each row execute function public.tg_tenants__webhooks();
drop trigger if exists _950_webhooks on public.tenant_settings;
create trigger _950_webhooks after update of settings on public.tenant_settings
  for each row execute function public.tg_tenant_settings__webhooks();
drop trigger if exists _950_webhooks on public.memberships;
create trigger _950_webhooks after insert or update or delete on public.memberships
  for each row execute function public.tg_memberships__webhooks();
drop trigger if exists _950_webhooks on public.tenant_invitations;
create trigger _950_webhooks after update of accepted_at on public.tenant_invitations
  for each row execute function public.tg_tenant_invitations__webhooks();

------------------------------------------------------------------------------
-- grants (policy first, then grant; insert/update list their columns)
------------------------------------------------------------------------------
grant select on public.meters, public.plan_meters to app, hasura;
grant select on public.tenant_meter_caps to app, hasura;
grant select on public.usage_events to app, hasura;
grant insert (tenant_id, id, meter_id, user_id, value, properties, occurred_at, period, idempotency_key,
              request_hash, correction, reason, actor_id) on public.usage_events to app;
grant select on public.usage_meter_totals to app, hasura;
grant insert (tenant_id, meter_id, period, usage, value_sum, event_count, value_max, overage) on public.usage_meter_totals to app;
grant update (usage, value_sum, event_count, value_max, overage, updated_at) on public.usage_meter_totals to app;
grant select on public.stripe_meter_reports to app;
grant select (tenant_id, id, url, description, event_types, enabled, disabled_at, disabled_reason, failing_since,
              created_by, created_at, updated_at) on public.webhook_endpoints to app;
grant insert (tenant_id, url, description, event_types, secret, created_by) on public.webhook_endpoints to app;
grant update (url, description, event_types, enabled, disabled_at, disabled_reason, failing_since) on public.webhook_endpoints to app;
grant delete on public.webhook_endpoints to app;
grant select on public.webhook_events, public.webhook_deliveries, public.webhook_delivery_attempts to app;
grant insert (tenant_id, endpoint_id, event_id, event_type, replay_of) on public.webhook_deliveries to app;
grant select, insert on public.analytics_events, public.connector_events to app;
grant select on public.analytics_events, public.connector_events to hasura;

------------------------------------------------------------------------------
-- data: the default meter, capped per plan like the plans' API-call quota
------------------------------------------------------------------------------
insert into public.meters (id, name, aggregation, unit)
values ('api-calls', 'API calls', 'sum', 'call')
on conflict (id) do nothing;

insert into public.plan_meters (plan_id, meter_id, cap, enforcement)
select p.id, 'api-calls', case when p.max_api_calls_month < 0 then null else p.max_api_calls_month end,
       case when p.id = 'free' then 'hard' else 'soft' end
from public.plans p
on conflict (plan_id, meter_id) do nothing;
