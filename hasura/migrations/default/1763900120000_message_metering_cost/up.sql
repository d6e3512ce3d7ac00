-- Message metering, same counts at a lower cost per transaction. The design is
-- unchanged: a transaction-local tally, one deferred _800_usage event queued by
-- the transaction's first row, and at commit tg__usage_flush() adds the tally to
-- the backend's shard row, so a writer takes no counter lock before it commits.
-- What a one-message transaction paid for it, and no longer does:
--   - the WHEN clause called usage_tally(), a SQL function. A WHEN clause is
--     planned again for every statement, and the planner inlines a SQL function
--     by parsing its body again: twice the cost of the counter update. It is
--     now PL/pgSQL, never inlined: compiled once per session, its plan kept
--     while the session's search_path stays the same. It has no SET search_path
--     of its own, which would double what it costs per row;
--   - the flush reset the tally with PERFORM, which PL/pgSQL runs through the
--     executor like a query; now an assignment;
--   - the flush's update of messages_total checked the row's period and shard
--     (below).

------------------------------------------------------------------------------
-- types
------------------------------------------------------------------------------
-- tenant_usage_counters.period and .shard become domains carrying the checks
-- that were table constraints. PostgreSQL checks every CHECK constraint of a
-- table on every UPDATE, whatever the update sets, and reads each constraint's
-- expression again for every statement: on the flush's update of
-- messages_total that cost two thirds as much again as the update itself. A
-- domain's check runs where a value of it is written (insert, copy, an update
-- that sets the column), so every value stored is still checked. The domains
-- are made without their checks, which are added once the columns have the new
-- types: that way the change rewrites neither the table nor its primary key
-- index (adding the checks reads the rows once). The view over the table is
-- made again around the change.
do $$
begin
  if to_regtype('public.usage_period') is null then
    create domain public.usage_period as text;
  end if;
  if to_regtype('public.usage_shard') is null then
    create domain public.usage_shard as smallint;
  end if;
end
$$;

drop view if exists public.tenant_usage;
alter table public.tenant_usage_counters
  drop constraint if exists tenant_usage_counters_period_format,
  drop constraint if exists tenant_usage_counters_shard_range,
  alter column period type public.usage_period,
  alter column shard type public.usage_shard;
alter domain public.usage_period drop constraint if exists usage_period_format;
alter domain public.usage_period add constraint usage_period_format check (value ~ '^[0-9]{4}-(0[1-9]|1[0-2])$');
alter domain public.usage_shard drop constraint if exists usage_shard_range;
-- pg_backend_pid() % 64: concurrent sessions mostly write different rows.
alter domain public.usage_shard add constraint usage_shard_range check (value between 0 and 63);

-- As in 1763900001000_limits_usage.
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
grant select on public.tenant_usage to app, hasura;

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- The tally of a transaction, per tenant: the transaction-local setting
-- 'saas_usage.messages_<tenant id without dashes>', which usage_tally() adds one
-- to for every row (called by the trigger's WHEN clause) and which is true for
-- the first row only. Flushed at commit: added to the backend's shard row and
-- reset, so rows inserted after a flush forced half way (SET CONSTRAINTS ...
-- IMMEDIATE) queue the next one. Savepoint rollbacks undo the setting and the
-- queued event together, so the count stays exact.
-- Executable by everyone: it only sets a transaction-local custom setting,
-- which any role can already do with set_config().
create or replace function public.usage_tally(p_setting text) returns boolean
language plpgsql volatile
as $$
begin
  return pg_catalog.set_config(
           p_setting,
           (coalesce(nullif(pg_catalog.current_setting(p_setting, true), ''), '0')::bigint + 1)::text,
           true) = '1';
end
$$;
grant execute on function public.usage_tally(text) to public;

create or replace function public.tg__usage_flush() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_key text;
  v_count bigint;
  v_reset text;
begin
  if tg_nargs > 0 then
    v_tenant := tg_argv[0];
  else
    v_tenant := new.tenant_id;
  end if;
  v_key := 'saas_usage.messages_' || replace(v_tenant::text, '-', '');
  v_count := nullif(current_setting(v_key, true), '');
  -- Nothing left when an earlier flush of this transaction took it.
  if v_count > 0 then
    v_reset := set_config(v_key, '0', true);
    update public.tenant_usage_counters
       set messages_total = messages_total + v_count
     where tenant_id = v_tenant and period = to_char(now() at time zone 'UTC', 'YYYY-MM') and shard = pg_backend_pid() % 64;
    if not found then
      insert into public.tenant_usage_counters as c (tenant_id, period, shard, messages_total)
      values (v_tenant, to_char(now() at time zone 'UTC', 'YYYY-MM'), pg_backend_pid() % 64, v_count)
      on conflict (tenant_id, period, shard) do update set messages_total = c.messages_total + excluded.messages_total;
    end if;
  end if;
  return null;
end
$$;
revoke all on function public.tg__usage_flush() from public;

-- As in 1763900110000_quota_shards, but the messages trigger's WHEN clause
-- calls usage_tally() with the name of the tenant's setting.
create or replace function public.attach_tenant_triggers(p_schema name, p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_table text;
  v_attached boolean := false;
  v_sql text[];
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  -- Incremental: a template upgrade pays only for tables that lack a trigger
  -- (new or recreated ones). A migration that changes a trigger's definition
  -- drops it first.
  foreach v_table in array array['members', 'channels', 'files'] loop
    continue when to_regclass(format('%I.%I', p_schema, v_table)) is null;
    v_sql := public.tenant_limit_trigger_sql(p_schema, v_table, p_tenant_id);
    if not exists (select 1 from pg_trigger where tgrelid = format('%I.%I', p_schema, v_table)::regclass
                                               and tgname = '_500_limits') then
      execute v_sql[1];
      v_attached := true;
    end if;
    if not exists (select 1 from pg_trigger where tgrelid = format('%I.%I', p_schema, v_table)::regclass
                                               and tgname = '_800_usage') then
      execute v_sql[2];
      v_attached := true;
    end if;
  end loop;
  if to_regclass(format('%I.%I', p_schema, 'messages')) is not null
     and not exists (select 1 from pg_trigger where tgrelid = format('%I.%I', p_schema, 'messages')::regclass
                                                and tgname = '_800_usage') then
    execute format(
      'create constraint trigger _800_usage after insert on %I.%I deferrable initially deferred for each row
         when (public.usage_tally(%L)) execute function public.tg__usage_flush(%L)',
      p_schema, 'messages', 'saas_usage.messages_' || replace(p_tenant_id::text, '-', ''), p_tenant_id);
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
-- triggers: every tenant schema in this database whose messages table has the
-- trigger gets the new one (the owner is the schema's mark, so move targets
-- not yet in the registry and a database tenant's own schema are included);
-- the pooled table is keyed by new.tenant_id.
------------------------------------------------------------------------------
do $$
declare
  v_schema record;
begin
  for v_schema in
    select n.nspname as schema_name, substr(obj_description(n.oid, 'pg_namespace'), length('tenant:') + 1) as owner
    from pg_trigger t
    join pg_class c on c.oid = t.tgrelid
    join pg_namespace n on n.oid = c.relnamespace
    where t.tgname = '_800_usage' and c.relname = 'messages' and n.nspname like 'tenant\_%'
    order by n.nspname
  loop
    if v_schema.owner ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       and public.tenant_owns_schema(v_schema.owner::uuid, v_schema.schema_name) then
      execute format('drop trigger _800_usage on %I.%I', v_schema.schema_name, 'messages');
      perform public.attach_tenant_triggers(v_schema.schema_name, v_schema.owner::uuid);
    end if;
  end loop;
end
$$;

drop trigger if exists _800_usage on pooled.messages;
create constraint trigger _800_usage after insert on pooled.messages deferrable initially deferred
  for each row when (public.usage_tally('saas_usage.messages_' || pg_catalog.replace(new.tenant_id::text, '-', '')))
  execute function public.tg__usage_flush();

-- The SQL version. A trigger still calling it makes this fail, and the
-- migration with it, rather than leave that trigger behind.
drop function if exists public.usage_tally(text, uuid);
