-- Plan limits, usage metering and the numbers behind per-plan rate limits.
-- Limits are enforced by triggers in PostgreSQL, so they
-- hold for every path (actions server, Hasura, psql); usage is recorded by
-- triggers in the same transaction as the change. Safe to run twice.
--
-- How the pieces fit:
--   tenant_counters        one row per tenant: the current users, channels,
--                          storage and files. Limit checks lock it (FOR UPDATE),
--                          which serialises check + insert per tenant.
--   tenant_usage_history   closing values of those gauges for past months.
--   tenant_usage_counters  messages a month, sharded by backend so concurrent
--                          writers of one busy tenant never queue on one row.
--   tenant_api_calls       API calls a month per endpoint, written in batches
--                          by the actions server (no write per request).
--   tenant_usage           the documented view: one row per tenant per 'YYYY-MM'.

------------------------------------------------------------------------------
-- types (and the immutable helpers table constraints need)
------------------------------------------------------------------------------
-- Per-tenant overrides of plan numbers (custom contracts): an object whose keys
-- are plan limit columns and whose values are whole numbers (-1 = unlimited;
-- rate limits at least 1).
create or replace function public.limit_overrides_valid(p_overrides jsonb) returns boolean
language sql immutable parallel safe
set search_path = pg_catalog
as $$
  select jsonb_typeof(p_overrides) = 'object' and not exists (
    select 1
    from jsonb_each(p_overrides) as e (key, value)
    where e.key not in ('max_users', 'max_channels', 'max_storage_bytes', 'max_api_calls_month',
                        'rate_limit_per_minute', 'rate_limit_per_hour')
       or jsonb_typeof(e.value) <> 'number'
       or e.value::numeric <> trunc(e.value::numeric)
       or (e.key like 'rate\_limit\_%' and e.value::numeric not between 1 and 2147483647)
       or (e.key like 'max\_%' and e.value::numeric not between -1 and 9223372036854775807)
  )
$$;

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
alter table public.tenant_settings
  add column if not exists limit_overrides jsonb not null default '{}'::jsonb;
alter table public.tenant_settings drop constraint if exists tenant_settings_limit_overrides_valid;
alter table public.tenant_settings
  add constraint tenant_settings_limit_overrides_valid check (public.limit_overrides_valid(limit_overrides));

create table if not exists public.tenant_counters (
  tenant_id uuid primary key references public.tenants (id) on delete cascade,
  -- The month of the last change; the values are current (and were the
  -- closing values of every month since then).
  period text not null constraint tenant_counters_period_format check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  users_total bigint not null default 0,
  channels_total bigint not null default 0,
  storage_bytes bigint not null default 0,
  files_count bigint not null default 0,
  updated_at timestamptz not null default now()
) with (fillfactor = 70);

create table if not exists public.tenant_usage_history (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  period text not null constraint tenant_usage_history_period_format check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  users_total bigint not null,
  channels_total bigint not null,
  storage_bytes bigint not null,
  files_count bigint not null,
  primary key (tenant_id, period)
);

create table if not exists public.tenant_usage_counters (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  period text not null constraint tenant_usage_counters_period_format check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  -- pg_backend_pid() % 64: concurrent sessions mostly write different rows.
  shard smallint not null constraint tenant_usage_counters_shard_range check (shard between 0 and 63),
  messages_total bigint not null default 0,
  primary key (tenant_id, period, shard)
) with (fillfactor = 50);

create table if not exists public.tenant_api_calls (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  period text not null constraint tenant_api_calls_period_format check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  endpoint text not null constraint tenant_api_calls_endpoint_length check (length(endpoint) between 1 and 200),
  calls bigint not null default 0 constraint tenant_api_calls_calls_positive check (calls >= 0),
  primary key (tenant_id, period, endpoint)
);

------------------------------------------------------------------------------
-- indexes (every table above is keyed by a primary key led by tenant_id)
------------------------------------------------------------------------------

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
-- Only while it is a table: a later migration renames it and puts a view of
-- that name over it and its shards (a rerun of this file finds the view).
select public.enable_tenant_rls('public.tenant_counters')
where (select c.relkind from pg_class c where c.oid = 'public.tenant_counters'::regclass) = 'r';
select public.enable_tenant_rls('public.tenant_usage_history');
select public.enable_tenant_rls('public.tenant_usage_counters');
select public.enable_tenant_rls('public.tenant_api_calls');

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- Plan numbers with the tenant's overrides applied (-1 = unlimited). Invoker
-- rights: as `app` it answers for the request's own tenant only (RLS).
create or replace function public.tenant_effective_limits(p_tenant_id uuid)
returns table (
  plan text,
  max_users bigint,
  max_channels bigint,
  max_storage_bytes bigint,
  max_api_calls_month bigint,
  rate_limit_per_minute integer,
  rate_limit_per_hour integer
)
language sql stable
as $$
  select p.id,
         coalesce((s.limit_overrides ->> 'max_users')::bigint, p.max_users),
         coalesce((s.limit_overrides ->> 'max_channels')::bigint, p.max_channels),
         coalesce((s.limit_overrides ->> 'max_storage_bytes')::bigint, p.max_storage_bytes),
         coalesce((s.limit_overrides ->> 'max_api_calls_month')::bigint, p.max_api_calls_month),
         coalesce((s.limit_overrides ->> 'rate_limit_per_minute')::integer, p.rate_limit_per_minute),
         coalesce((s.limit_overrides ->> 'rate_limit_per_hour')::integer, p.rate_limit_per_hour)
  from public.tenants t
  join public.plans p on p.id = t.plan
  left join public.tenant_settings s on s.tenant_id = t.id
  where t.id = p_tenant_id
$$;

-- Makes the tenant's counter row current for p_period and locks it: on the
-- first change of a new month the previous month's closing values move to
-- tenant_usage_history. Called by the triggers below (as the owner).
create or replace function public.tenant_counters_open_period(p_tenant_id uuid, p_period text)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_period text;
begin
  insert into public.tenant_counters (tenant_id, period) values (p_tenant_id, p_period)
  on conflict (tenant_id) do nothing;
  select c.period into v_period from public.tenant_counters c where c.tenant_id = p_tenant_id for update;
  -- A transaction that began before midnight may commit after a newer one: never move back.
  if v_period < p_period then
    insert into public.tenant_usage_history as h (tenant_id, period, users_total, channels_total, storage_bytes, files_count)
    select c.tenant_id, c.period, c.users_total, c.channels_total, c.storage_bytes, c.files_count
    from public.tenant_counters c where c.tenant_id = p_tenant_id
    on conflict (tenant_id, period) do update
      set users_total = excluded.users_total, channels_total = excluded.channels_total,
          storage_bytes = excluded.storage_bytes, files_count = excluded.files_count;
    update public.tenant_counters set period = p_period where tenant_id = p_tenant_id;
  end if;
end
$$;
revoke all on function public.tenant_counters_open_period(uuid, text) from public;

-- _500_limits: BEFORE INSERT (and, on files, UPDATE OF size_bytes). Refuses a
-- row that would take the tenant past its plan with SQLSTATE SA429 (DETAIL is
-- a JSON object: limit, plan, max, usage, requested). The tenant comes from
-- TG_ARGV[0] (schema tier: a literal) or else NEW.tenant_id (pooled tables).
--
-- Check and insert are serialised per tenant by locking the tenant's counter
-- row, which the _800_usage AFTER trigger keeps current. AFTER ROW triggers run
-- at the end of the statement, so rows admitted earlier in the same statement
-- (a multi-row insert) are carried as '<statement start>:<amount>' in a
-- transaction-local setting, saas_limits.<limit>_<tenant>, until their AFTER
-- trigger moves them into the counter. A row admitted here but then skipped (ON
-- CONFLICT) is never moved; it is forgotten when the next statement starts, so
-- the error is on the safe side and never outlives its statement.
create or replace function public.tg__limits() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_limit text;
  v_amount bigint;
  v_plan text;
  v_max bigint;
  v_used bigint;
  v_key text;
  v_held text;
  v_statement text := (extract(epoch from statement_timestamp()) * 1000000)::bigint::text;
  v_pending bigint;
  v_message text;
begin
  if tg_nargs > 0 and tg_argv[0] <> '' then
    v_tenant := tg_argv[0]::uuid;
  else
    v_tenant := new.tenant_id;
  end if;

  case tg_table_name
    when 'members' then
      v_limit := 'users';
      v_amount := 1;
    when 'channels' then
      v_limit := 'channels';
      v_amount := 1;
    when 'files' then
      v_limit := 'storage_bytes';
      v_amount := new.size_bytes;
      if tg_op = 'UPDATE' then
        v_amount := new.size_bytes - old.size_bytes;
      end if;
    else
      raise exception 'tg__limits: no plan limit applies to table %', tg_table_name;
  end case;
  if v_amount <= 0 then
    return new;
  end if;

  select l.plan,
         case v_limit when 'users' then l.max_users when 'channels' then l.max_channels else l.max_storage_bytes end
    into v_plan, v_max
  from public.tenant_effective_limits(v_tenant) l;
  -- Unknown tenant: the foreign key decides. Unlimited: nothing to serialise.
  if v_max is null or v_max < 0 then
    return new;
  end if;

  perform public.tenant_counters_open_period(v_tenant, to_char(now() at time zone 'UTC', 'YYYY-MM'));
  select case v_limit when 'users' then c.users_total when 'channels' then c.channels_total else c.storage_bytes end
    into v_used
  from public.tenant_counters c where c.tenant_id = v_tenant;

  v_key := 'saas_limits.' || v_limit || '_' || replace(v_tenant::text, '-', '');
  v_pending := 0;
  v_held := current_setting(v_key, true);
  if split_part(v_held, ':', 1) = v_statement then
    v_pending := greatest(split_part(v_held, ':', 2)::bigint, 0);
  end if;
  v_used := v_used + v_pending;

  if v_used + v_amount > v_max then
    v_message := case v_limit
      when 'storage_bytes' then format(
        'storage limit reached: the %s plan allows %s (%s bytes) of files, %s bytes are used and this change needs %s more',
        v_plan, pg_size_pretty(v_max), v_max, v_used, v_amount)
      else format('%s limit reached: the %s plan allows %s %s and this tenant has %s',
                  v_limit, v_plan, v_max, v_limit, v_used)
    end;
    raise exception using
      errcode = 'SA429',
      message = v_message,
      detail = json_build_object('limit', v_limit, 'plan', v_plan, 'max', v_max, 'usage', v_used,
                                 'requested', v_amount)::text,
      hint = 'Upgrade the plan or free some capacity first.';
  end if;
  perform set_config(v_key, v_statement || ':' || (v_pending + v_amount), true);
  return new;
end
$$;
revoke all on function public.tg__limits() from public;

-- _800_usage on members, channels, files: AFTER INSERT OR DELETE (and UPDATE OF
-- size_bytes on files). Moves the row into the tenant's counters, in the same
-- transaction as the change, and releases what _500_limits held as pending.
create or replace function public.tg__usage() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_period text := to_char(now() at time zone 'UTC', 'YYYY-MM');
  v_sign bigint := case when tg_op = 'DELETE' then -1 else 1 end;
  v_users bigint := 0;
  v_channels bigint := 0;
  v_storage bigint := 0;
  v_files bigint := 0;
  v_limit text;
  v_admitted bigint;
  v_key text;
  v_held text;
  v_statement text;
begin
  if tg_nargs > 0 and tg_argv[0] <> '' then
    v_tenant := tg_argv[0]::uuid;
  elsif tg_op = 'DELETE' then
    v_tenant := old.tenant_id;
  else
    v_tenant := new.tenant_id;
  end if;

  case tg_table_name
    when 'members' then
      v_limit := 'users';
      v_users := v_sign;
      v_admitted := v_users;
    when 'channels' then
      v_limit := 'channels';
      v_channels := v_sign;
      v_admitted := v_channels;
    when 'files' then
      v_limit := 'storage_bytes';
      if tg_op = 'INSERT' then
        v_storage := new.size_bytes;
        v_files := 1;
      elsif tg_op = 'DELETE' then
        v_storage := -old.size_bytes;
        v_files := -1;
      else
        v_storage := new.size_bytes - old.size_bytes;
      end if;
      v_admitted := v_storage;
    else
      raise exception 'tg__usage: no usage is metered for table %', tg_table_name;
  end case;

  if v_admitted > 0 then
    v_statement := (extract(epoch from statement_timestamp()) * 1000000)::bigint::text;
    v_key := 'saas_limits.' || v_limit || '_' || replace(v_tenant::text, '-', '');
    v_held := current_setting(v_key, true);
    if split_part(v_held, ':', 1) = v_statement then
      perform set_config(v_key, v_statement || ':' || greatest(split_part(v_held, ':', 2)::bigint - v_admitted, 0), true);
    end if;
  end if;

  update public.tenant_counters
     set users_total = users_total + v_users,
         channels_total = channels_total + v_channels,
         storage_bytes = storage_bytes + v_storage,
         files_count = files_count + v_files,
         updated_at = now()
   where tenant_id = v_tenant and period >= v_period;
  if not found then
    perform public.tenant_counters_open_period(v_tenant, v_period);
    update public.tenant_counters
       set users_total = users_total + v_users,
           channels_total = channels_total + v_channels,
           storage_bytes = storage_bytes + v_storage,
           files_count = files_count + v_files,
           updated_at = now()
     where tenant_id = v_tenant;
  end if;
  return null;
end
$$;
revoke all on function public.tg__usage() from public;

-- High-volume metering (messages): counted per transaction, not per row. The
-- trigger's WHEN clause calls usage_tally(), which adds one to a
-- transaction-local setting and is true only for the first row, so only that
-- row queues the deferred _800_usage event; at commit tg__usage_flush() writes
-- the transaction's total once, to this backend's shard row. A bulk insert of
-- 10,000 rows costs one counter write, and concurrent writers of one tenant
-- update different rows. Savepoint rollbacks undo the setting and the queued
-- event together, so the count stays exact.
-- Executable by everyone: it only sets a transaction-local custom setting,
-- which any role can already do with set_config(); the worst misuse inflates
-- the caller's own tenant's count.
create or replace function public.usage_tally(p_metric text, p_tenant_id uuid) returns boolean
language sql volatile
as $$
  select pg_catalog.set_config(
           'saas_usage.' || p_metric || '_' || pg_catalog.replace(p_tenant_id::text, '-', ''),
           (coalesce(nullif(pg_catalog.current_setting(
              'saas_usage.' || p_metric || '_' || pg_catalog.replace(p_tenant_id::text, '-', ''), true), ''), '0')::bigint
            + 1)::text,
           true) = '1'
$$;
grant execute on function public.usage_tally(text, uuid) to public;

create or replace function public.tg__usage_flush() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_key text;
  v_count bigint;
  v_period text := to_char(now() at time zone 'UTC', 'YYYY-MM');
  v_shard smallint := pg_backend_pid() % 64;
begin
  if tg_table_name <> 'messages' then
    raise exception 'tg__usage_flush: no usage counter for table %', tg_table_name;
  end if;
  if tg_nargs > 0 and tg_argv[0] <> '' then
    v_tenant := tg_argv[0]::uuid;
  else
    v_tenant := new.tenant_id;
  end if;
  v_key := 'saas_usage.messages_' || replace(v_tenant::text, '-', '');
  v_count := coalesce(nullif(current_setting(v_key, true), '')::bigint, 0);
  if v_count <= 0 then
    return null;
  end if;
  perform set_config(v_key, '0', true);
  update public.tenant_usage_counters
     set messages_total = messages_total + v_count
   where tenant_id = v_tenant and period = v_period and shard = v_shard;
  if not found then
    insert into public.tenant_usage_counters as c (tenant_id, period, shard, messages_total)
    values (v_tenant, v_period, v_shard, v_count)
    on conflict (tenant_id, period, shard) do update set messages_total = c.messages_total + excluded.messages_total;
  end if;
  return null;
end
$$;
revoke all on function public.tg__usage_flush() from public;

-- Sets a schema-tier tenant's counters from its data (first attachment, or
-- repair after an operator's TRUNCATE, which fires no row triggers).
create or replace function public.recount_tenant_counters(p_schema name, p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_users bigint := 0;
  v_channels bigint := 0;
  v_storage bigint := 0;
  v_files bigint := 0;
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  -- Lock first, count after: concurrent writers either committed before the
  -- count or add themselves to the counters after it.
  perform public.tenant_counters_open_period(p_tenant_id, to_char(now() at time zone 'UTC', 'YYYY-MM'));
  if to_regclass(format('%I.%I', p_schema, 'members')) is not null then
    execute format('select count(*) from %I.%I', p_schema, 'members') into v_users;
  end if;
  if to_regclass(format('%I.%I', p_schema, 'channels')) is not null then
    execute format('select count(*) from %I.%I', p_schema, 'channels') into v_channels;
  end if;
  if to_regclass(format('%I.%I', p_schema, 'files')) is not null then
    execute format('select count(*), coalesce(sum(size_bytes), 0) from %I.%I', p_schema, 'files') into v_files, v_storage;
  end if;
  update public.tenant_counters
     set users_total = v_users, channels_total = v_channels, storage_bytes = v_storage, files_count = v_files,
         updated_at = now()
   where tenant_id = p_tenant_id;
end
$$;
revoke all on function public.recount_tenant_counters(name, uuid) from public;

-- Attaches the limit and usage triggers to a schema-tier tenant's tables, with
-- the tenant id as a literal argument, and recounts its counters. Idempotent:
-- the template runner calls it after every template application (provisioning
-- and `npm run tenants:migrate`), so re-created tables get them back.
create or replace function public.attach_tenant_triggers(p_schema name, p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_table text;
  v_attached boolean := false;
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  -- Incremental: a template upgrade pays only for tables that lack a trigger
  -- (new or recreated ones). A migration that changes a trigger's definition
  -- drops it first.
  foreach v_table in array array['members', 'channels', 'files'] loop
    continue when to_regclass(format('%I.%I', p_schema, v_table)) is null;
    if not exists (select 1 from pg_trigger where tgrelid = format('%I.%I', p_schema, v_table)::regclass
                                               and tgname = '_500_limits') then
      execute format(
        'create trigger _500_limits before insert%s on %I.%I for each row execute function public.tg__limits(%L)',
        case when v_table = 'files' then ' or update of size_bytes' else '' end, p_schema, v_table, p_tenant_id);
      v_attached := true;
    end if;
    if not exists (select 1 from pg_trigger where tgrelid = format('%I.%I', p_schema, v_table)::regclass
                                               and tgname = '_800_usage') then
      execute format(
        'create trigger _800_usage after insert or delete%s on %I.%I for each row execute function public.tg__usage(%L)',
        case when v_table = 'files' then ' or update of size_bytes' else '' end, p_schema, v_table, p_tenant_id);
      v_attached := true;
    end if;
  end loop;
  if to_regclass(format('%I.%I', p_schema, 'messages')) is not null
     and not exists (select 1 from pg_trigger where tgrelid = format('%I.%I', p_schema, 'messages')::regclass
                                                and tgname = '_800_usage') then
    execute format(
      'create constraint trigger _800_usage after insert on %I.%I deferrable initially deferred for each row
         when (public.usage_tally(%L, %L::uuid)) execute function public.tg__usage_flush(%L)',
      p_schema, 'messages', 'messages', p_tenant_id, p_tenant_id);
    v_attached := true;
  end if;
  -- Rows written while a trigger was missing were not counted.
  if v_attached then
    perform public.recount_tenant_counters(p_schema, p_tenant_id);
  end if;
end
$$;
revoke all on function public.attach_tenant_triggers(name, uuid) from public;

------------------------------------------------------------------------------
-- views (they read through the caller's RLS)
------------------------------------------------------------------------------
-- One row per tenant per month from the tenant's first month to the current
-- one. users/channels/storage/files are the values at the end of the month
-- (now, for the current month); messages and API calls are those of the month.
create or replace view public.tenant_usage with (security_invoker = true) as
select t.id as tenant_id,
       m.period,
       coalesce(g.users_total, 0)::bigint as users_total,
       coalesce(g.channels_total, 0)::bigint as channels_total,
       coalesce(msg.messages_total, 0)::bigint as messages_total,
       coalesce(g.storage_bytes, 0)::bigint as storage_bytes,
       coalesce(g.files_count, 0)::bigint as files_count,
       coalesce(api.api_calls_total, 0)::bigint as api_calls_total,
       coalesce(api.api_calls_by_endpoint, '{}'::jsonb) as api_calls_by_endpoint
from public.tenants t
cross join lateral (
  select to_char(d, 'YYYY-MM') as period
  from generate_series(date_trunc('month', t.created_at at time zone 'UTC'),
                       date_trunc('month', now() at time zone 'UTC'),
                       interval '1 month') as d
) m
left join lateral (
  select x.users_total, x.channels_total, x.storage_bytes, x.files_count
  from (
    select c.period, c.users_total, c.channels_total, c.storage_bytes, c.files_count
    from public.tenant_counters c
    where c.tenant_id = t.id and c.period <= m.period
    union all
    select h.period, h.users_total, h.channels_total, h.storage_bytes, h.files_count
    from public.tenant_usage_history h
    where h.tenant_id = t.id and h.period <= m.period
  ) x
  order by x.period desc
  limit 1
) g on true
left join lateral (
  select sum(u.messages_total) as messages_total
  from public.tenant_usage_counters u
  where u.tenant_id = t.id and u.period = m.period
) msg on true
left join lateral (
  select sum(a.calls) as api_calls_total, jsonb_object_agg(a.endpoint, a.calls) as api_calls_by_endpoint
  from public.tenant_api_calls a
  where a.tenant_id = t.id and a.period = m.period
) api on true;

------------------------------------------------------------------------------
-- functions over the view
------------------------------------------------------------------------------
-- Each plan limit for a month (default: the current one) with the month's
-- usage: max_value -1 = unlimited; at_limit = growth is refused; exceeded =
-- over the limit (after a downgrade); overage = how far over.
create or replace function public.tenant_limit_report(p_tenant_id uuid, p_period text)
returns table (
  resource text,
  usage bigint,
  max_value bigint,
  remaining bigint,
  overage bigint,
  at_limit boolean,
  exceeded boolean
)
language sql stable
as $$
  select r.resource,
         r.usage,
         r.max_value,
         case when r.max_value >= 0 then greatest(r.max_value - r.usage, 0) end,
         case when r.max_value >= 0 then greatest(r.usage - r.max_value, 0) else 0 end,
         r.max_value >= 0 and r.usage >= r.max_value,
         r.max_value >= 0 and r.usage > r.max_value
  from public.tenant_effective_limits(p_tenant_id) l
  left join public.tenant_usage u on u.tenant_id = p_tenant_id and u.period = p_period
  cross join lateral (values
    (1, 'users', coalesce(u.users_total, 0), l.max_users),
    (2, 'channels', coalesce(u.channels_total, 0), l.max_channels),
    (3, 'storage_bytes', coalesce(u.storage_bytes, 0), l.max_storage_bytes),
    (4, 'api_calls_month', coalesce(u.api_calls_total, 0), l.max_api_calls_month)
  ) as r (ord, resource, usage, max_value)
  order by r.ord
$$;

-- The documented `SELECT public.check_tenant_limits('<tenant id>')`: the current month.
create or replace function public.check_tenant_limits(p_tenant_id uuid)
returns table (
  resource text,
  usage bigint,
  max_value bigint,
  remaining bigint,
  overage bigint,
  at_limit boolean,
  exceeded boolean
)
language sql stable
as $$
  select * from public.tenant_limit_report(p_tenant_id, to_char(now() at time zone 'UTC', 'YYYY-MM'))
$$;

------------------------------------------------------------------------------
-- triggers: the tenant tables get theirs from attach_tenant_triggers (above),
-- which the template runner calls for every tenant it builds or upgrades
-- (actions-server/src/tenants/template.ts); tenants that exist already get them
-- here, with their usage counted. tenant_counters sets its own updated_at (no
-- _100_timestamps: it is written on every limited insert).
------------------------------------------------------------------------------
do $$
declare
  v_tenant record;
begin
  for v_tenant in
    select t.id, t.schema_name from public.tenants t
    where t.isolation = 'schema' and t.schema_name is not null
    order by t.id
  loop
    if public.tenant_owns_schema(v_tenant.id, v_tenant.schema_name) then
      perform public.attach_tenant_triggers(v_tenant.schema_name, v_tenant.id);
    else
      raise warning 'tenant % has no schema of its own (%): no limit or usage triggers attached',
        v_tenant.id, v_tenant.schema_name;
    end if;
  end loop;
end
$$;

------------------------------------------------------------------------------
-- grants (policies above decide the rows; these decide the columns)
------------------------------------------------------------------------------
-- Usage is written by triggers (as the owner) and by the actions server's
-- batched API-call flush (as the owner); callers only read.
grant select on public.tenant_counters, public.tenant_usage_history, public.tenant_usage_counters,
                public.tenant_api_calls, public.tenant_usage to app, hasura;

-- limit_overrides_valid stays executable by everyone: the check constraint on
-- tenant_settings runs it as whoever writes the row.
revoke all on function public.tenant_effective_limits(uuid) from public;
revoke all on function public.tenant_limit_report(uuid, text) from public;
revoke all on function public.check_tenant_limits(uuid) from public;
grant execute on function public.tenant_effective_limits(uuid) to app, hasura;
grant execute on function public.tenant_limit_report(uuid, text) to app, hasura;
grant execute on function public.check_tenant_limits(uuid) to app, hasura;
