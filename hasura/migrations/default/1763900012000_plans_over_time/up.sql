-- Plans that hold over time: trials that end, notices for the owner, plan
-- features enforced by the database where they guard data, a platform audit
-- trail of plan changes, and Stripe clean-up queued when a tenant is closed or
-- deleted (whichever path closes it). Safe to run twice.

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
-- Things the tenant's owners should read (e.g. "your trial ends in three days").
-- Recording one is idempotent on (tenant_id, dedupe_key): a redelivered Stripe
-- event records nothing new.
create table if not exists public.tenant_notices (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  kind text not null check (kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'),
  dedupe_key text not null check (length(dedupe_key) between 1 and 200),
  message text not null,
  data jsonb not null default '{}'::jsonb check (jsonb_typeof(data) = 'object'),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint tenant_notices_dedupe_key unique (tenant_id, dedupe_key)
);

-- Platform-level changes that belong to no tenant's chain (plan features and
-- limits). Append-only like the tenant trail; readable by the owner only.
create table if not exists public.platform_audit_logs (
  id bigint generated always as identity primary key,
  actor_kind text not null,
  actor_id uuid,
  action text not null,
  entity_type text not null,
  entity_id text not null,
  old_values jsonb,
  new_values jsonb,
  created_at timestamptz not null default clock_timestamp()
);

------------------------------------------------------------------------------
-- indexes
------------------------------------------------------------------------------
create index if not exists tenant_notices_created_at_idx on public.tenant_notices (tenant_id, created_at);
-- The trial job scans only tenants on trial.
create index if not exists tenants_trial_ends_at_idx on public.tenants (trial_ends_at) where status = 'trial';
create index if not exists platform_audit_logs_entity_idx on public.platform_audit_logs (entity_type, entity_id, id);

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
select public.enable_tenant_rls('public.tenant_notices');

alter table public.platform_audit_logs enable row level security;
alter table public.platform_audit_logs force row level security;

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- Whether a tenant on p_plan has p_feature: the plan's value, unless the
-- tenant's own override (tenant_settings.features) says otherwise. The plan is
-- a parameter so a trigger can judge the row being written.
create or replace function public.plan_tenant_has_feature(p_tenant_id uuid, p_plan text, p_feature text) returns boolean
language sql stable security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select coalesce(
    (select case when jsonb_typeof(s.features -> p_feature) = 'boolean' then (s.features -> p_feature)::boolean end
       from public.tenant_settings s where s.tenant_id = p_tenant_id),
    (select case when jsonb_typeof(p.features -> p_feature) = 'boolean' then (p.features -> p_feature)::boolean end
       from public.plans p where p.id = p_plan),
    false)
$$;
revoke all on function public.plan_tenant_has_feature(uuid, text, text) from public;
grant execute on function public.plan_tenant_has_feature(uuid, text, text) to app, hasura;

-- Raises SA402 (FEATURE_NOT_IN_PLAN) when the tenant on p_plan lacks p_feature;
-- DETAIL is JSON {"feature","plan","plans"} where plans are those including it.
create or replace function public.require_feature(p_tenant_id uuid, p_plan text, p_feature text) returns void
language plpgsql stable security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_plans jsonb;
begin
  if public.plan_tenant_has_feature(p_tenant_id, p_plan, p_feature) then
    return;
  end if;
  select coalesce(jsonb_agg(p.id order by p.sort_order, p.id), '[]'::jsonb) into v_plans
  from public.plans p where (p.features -> p_feature) = 'true'::jsonb;
  raise exception 'The % feature is not in the % plan', p_feature, p_plan
    using errcode = 'SA402',
          detail = jsonb_build_object('feature', p_feature, 'plan', p_plan, 'plans', v_plans)::text,
          hint = 'Change to a plan that includes it, or ask a platform admin for an override.';
end
$$;
revoke all on function public.require_feature(uuid, text, text) from public;
grant execute on function public.require_feature(uuid, text, text) to app, hasura;

-- A custom domain is data the feature guards: however it is written (REST,
-- Hasura, SQL), the tenant must have custom_domain. Removing one is always allowed.
create or replace function public.tg_tenants__feature_guard() returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if new.custom_domain is not null
     and (tg_op = 'INSERT' or new.custom_domain is distinct from old.custom_domain) then
    perform public.require_feature(new.id, new.plan, 'custom_domain');
  end if;
  return new;
end
$$;

-- Usage above a plan's stock limits (users, channels, storage) if the tenant
-- moved to p_plan now, its own limit overrides still applying. Empty: the
-- change fits.
create or replace function public.plan_change_conflicts(p_tenant_id uuid, p_plan text)
returns table (resource text, usage bigint, max_value bigint)
language sql stable
set search_path = pg_catalog, public, pg_temp
as $$
  select r.resource, r.usage, r.max_value
  from public.plans p
  left join public.tenant_settings s on s.tenant_id = p_tenant_id
  left join public.tenant_usage u on u.tenant_id = p_tenant_id
    and u.period = to_char(now() at time zone 'UTC', 'YYYY-MM')
  cross join lateral (values
    (1, 'users', coalesce(u.users_total, 0), coalesce((s.limit_overrides ->> 'max_users')::bigint, p.max_users)),
    (2, 'channels', coalesce(u.channels_total, 0), coalesce((s.limit_overrides ->> 'max_channels')::bigint, p.max_channels)),
    (3, 'storage_bytes', coalesce(u.storage_bytes, 0), coalesce((s.limit_overrides ->> 'max_storage_bytes')::bigint, p.max_storage_bytes))
  ) as r (ord, resource, usage, max_value)
  where p.id = p_plan and r.max_value >= 0 and r.usage > r.max_value
  order by r.ord
$$;
revoke all on function public.plan_change_conflicts(uuid, text) from public;
grant execute on function public.plan_change_conflicts(uuid, text) to app, hasura;

-- Ends one tenant's trial if it is due at p_now and no subscription pays for
-- it: 'downgrade' moves it to the free plan (active), 'suspend' suspends it as
-- billing does (a later payment lifts it). Returns what it did, or null when
-- nothing was due (so running it twice changes nothing).
create or replace function public.end_trial(p_tenant_id uuid, p_now timestamptz, p_action text default 'downgrade')
returns text
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row public.tenants;
begin
  if p_action not in ('downgrade', 'suspend') then
    raise exception 'unknown trial end action %', p_action using errcode = '22023';
  end if;
  select * into v_row from public.tenants where id = p_tenant_id for update;
  if not found or v_row.status <> 'trial' or v_row.trial_ends_at is null or v_row.trial_ends_at > p_now
     or coalesce(v_row.subscription_status, '') in ('trialing', 'active', 'past_due') then
    return null;
  end if;
  if p_action = 'suspend' then
    update public.tenants
       set status = 'suspended', suspended_at = now(), billing_suspended = true
     where id = p_tenant_id;
    return 'suspended';
  end if;
  update public.tenants set status = 'active', plan = 'free' where id = p_tenant_id;
  return 'downgraded';
end
$$;
revoke all on function public.end_trial(uuid, timestamptz, text) from public;

-- Tenants whose trial is due at p_now (candidates for end_trial), oldest first.
create or replace function public.trials_due(p_now timestamptz) returns setof uuid
language sql stable
set search_path = pg_catalog, public, pg_temp
as $$
  select id from public.tenants
  where status = 'trial' and trial_ends_at <= p_now
    and coalesce(subscription_status, '') not in ('trialing', 'active', 'past_due')
  order by trial_ends_at, id
$$;
revoke all on function public.trials_due(timestamptz) from public;

-- Queues a job for the job runner when its queue is installed (the server
-- installs it at start; a database migrated by other tools before the server
-- first ran gets nothing queued, and the job's periodic sweep catches up).
create or replace function public.queue_platform_job(p_task text, p_payload jsonb, p_job_key text) returns void
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if to_regprocedure('graphile_worker.add_job(text, json, text, timestamp with time zone, integer, text, integer, text[], text)') is null then
    raise warning 'job queue not installed: % not queued', p_task;
    return;
  end if;
  execute 'select graphile_worker.add_job($1, $2::json, job_key => $3)' using p_task, p_payload, p_job_key;
end
$$;
revoke all on function public.queue_platform_job(text, jsonb, text) from public;

-- A closed tenant stops paying: closing it (status cancelled, on any path)
-- queues the cancellation of its Stripe subscription; deleting it queues the
-- deletion of its Stripe customer (which also ends any subscription left).
create or replace function public.tg_tenants__stripe_cleanup() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_op = 'DELETE' then
    if old.stripe_customer_id is not null then
      perform public.queue_platform_job('billing.delete-customer',
        jsonb_build_object('tenantId', old.id, 'customerId', old.stripe_customer_id),
        'billing.delete-customer:' || old.id);
    end if;
    return old;
  end if;
  if new.status = 'cancelled' and old.status <> 'cancelled' and new.stripe_subscription_id is not null
     and coalesce(new.subscription_status, '') not in ('canceled', 'incomplete_expired') then
    perform public.queue_platform_job('billing.close-subscription',
      jsonb_build_object('tenantId', new.id, 'subscriptionId', new.stripe_subscription_id),
      'billing.close-subscription:' || new.id);
  end if;
  return new;
end
$$;
revoke all on function public.tg_tenants__stripe_cleanup() from public;

-- Plan features and limits are platform settings: every change is recorded
-- with the actor the transaction names (app.actor / app.user_id).
create or replace function public.tg_plans__audit() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_old jsonb := to_jsonb(old) - 'updated_at' - 'created_at';
  v_new jsonb := to_jsonb(new) - 'updated_at' - 'created_at';
  v_changed_old jsonb;
  v_changed_new jsonb;
  v_user text := nullif(current_setting('app.user_id', true), '');
begin
  select jsonb_object_agg(o.key, o.value), jsonb_object_agg(o.key, v_new -> o.key)
    into v_changed_old, v_changed_new
  from jsonb_each(v_old) o where o.value is distinct from v_new -> o.key;
  if v_changed_new is null then
    return new;
  end if;
  insert into public.platform_audit_logs (actor_kind, actor_id, action, entity_type, entity_id, old_values, new_values)
  values (coalesce(nullif(current_setting('app.actor', true), ''), 'system'), v_user::uuid,
          'plan.updated', 'plan', new.id, v_changed_old, v_changed_new);
  return new;
end
$$;
revoke all on function public.tg_plans__audit() from public;

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
drop trigger if exists _150_feature_guard on public.tenants;
create trigger _150_feature_guard before insert or update of custom_domain on public.tenants
  for each row execute function public.tg_tenants__feature_guard();

drop trigger if exists _910_stripe_cleanup on public.tenants;
create trigger _910_stripe_cleanup after update of status or delete on public.tenants
  for each row execute function public.tg_tenants__stripe_cleanup();

drop trigger if exists _900_audit on public.plans;
create trigger _900_audit after update on public.plans
  for each row execute function public.tg_plans__audit();

drop trigger if exists _010_append_only on public.platform_audit_logs;
create trigger _010_append_only before update or delete on public.platform_audit_logs
  for each row execute function public.tg__append_only();

drop trigger if exists _900_audit on public.tenant_notices;
create trigger _900_audit after insert on public.tenant_notices
  for each row execute function public.tg__audit(
    'entity=notice', 'tenant=tenant_id', 'key=id', 'insert=recorded');

------------------------------------------------------------------------------
-- policies guarded by a feature (restrictive: on top of the tenant policies)
------------------------------------------------------------------------------
-- Reading the audit trail is the audit_logs feature, for app and hasura alike
-- (the owner, and the security-definer writers, are not affected).
drop policy if exists audit_logs_feature on public.tenant_audit_logs;
create policy audit_logs_feature on public.tenant_audit_logs as restrictive for select to app, hasura
  using (public.tenant_has_feature(tenant_id, 'audit_logs'));
drop policy if exists audit_logs_feature on public.tenant_audit_heads;
create policy audit_logs_feature on public.tenant_audit_heads as restrictive for select to app, hasura
  using (public.tenant_has_feature(tenant_id, 'audit_logs'));

------------------------------------------------------------------------------
-- grants
------------------------------------------------------------------------------
grant select on public.tenant_notices to app, hasura;
revoke all on public.platform_audit_logs from public, app, hasura;
