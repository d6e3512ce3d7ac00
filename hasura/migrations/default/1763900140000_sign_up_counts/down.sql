-- The recount and the attaching of triggers as 1763900130000_provisioning_fast
-- and 1763900120000_message_metering_cost left them.
create or replace function public.recount_tenant_counters(p_schema name, p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  -- Lock first, count after: concurrent writers either committed before the
  -- count or add themselves to the counters after it.
  perform public.tenant_counters_lock(p_tenant_id);
  execute format(
    'select public.tenant_counters_set($1, %s, %s, f.bytes::bigint, f.n) from %s f',
    case when to_regclass(format('%I.%I', p_schema, 'members')) is null then '0'
         else format('(select count(*) from %I.%I)', p_schema, 'members') end,
    case when to_regclass(format('%I.%I', p_schema, 'channels')) is null then '0'
         else format('(select count(*) from %I.%I)', p_schema, 'channels') end,
    case when to_regclass(format('%I.%I', p_schema, 'files')) is null then '(select 0 as n, 0 as bytes)'
         else format('(select count(*) as n, coalesce(sum(size_bytes), 0) as bytes from %I.%I)', p_schema, 'files') end)
    using p_tenant_id;
end
$$;

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
drop function public.tenant_counters_recount(name, uuid);
