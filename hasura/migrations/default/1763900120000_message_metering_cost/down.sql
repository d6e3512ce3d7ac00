-- Undoes 1763900120000_message_metering_cost: usage_tally() and the flush as
-- 1763900001000_limits_usage made them, attach_tenant_triggers as
-- 1763900110000_quota_shards did, every messages trigger back to calling the SQL
-- usage_tally() in its WHEN clause, and tenant_usage_counters' period and shard
-- checks back to table constraints.
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
  for each row when (public.usage_tally('messages', new.tenant_id)) execute function public.tg__usage_flush();

-- After the triggers: nothing calls it any more.
drop function if exists public.usage_tally(text);

drop view if exists public.tenant_usage;
alter table public.tenant_usage_counters
  alter column period type text,
  alter column shard type smallint;
alter table public.tenant_usage_counters drop constraint if exists tenant_usage_counters_period_format;
alter table public.tenant_usage_counters
  add constraint tenant_usage_counters_period_format check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$');
alter table public.tenant_usage_counters drop constraint if exists tenant_usage_counters_shard_range;
alter table public.tenant_usage_counters
  add constraint tenant_usage_counters_shard_range check (shard between 0 and 63);
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
drop domain if exists public.usage_period;
drop domain if exists public.usage_shard;
