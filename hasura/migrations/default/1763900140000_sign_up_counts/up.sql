-- Attaching a new tenant's triggers at sign-up: the schema's ownership is
-- checked once (it was checked again by the recount), the triggers present
-- are read in one query (one per table and trigger before), and the first
-- count is one insert of the counter row instead of locking, opening the
-- period and setting it. Every CREATE TABLE discards the plans PL/pgSQL
-- cached, so each statement saved here is also a plan not made per sign-up.

-- The recount without the ownership check, for callers that made it.
create or replace function public.tenant_counters_recount(p_schema name, p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_counts text;
  v_first bigint;
begin
  v_counts := format(
    '%s as users, %s as channels, f.bytes::bigint as bytes, f.n as files from %s f',
    case when to_regclass(format('%I.%I', p_schema, 'members')) is null then '0'
         else format('(select count(*) from %I.%I)', p_schema, 'members') end,
    case when to_regclass(format('%I.%I', p_schema, 'channels')) is null then '0'
         else format('(select count(*) from %I.%I)', p_schema, 'channels') end,
    case when to_regclass(format('%I.%I', p_schema, 'files')) is null then '(select 0 as n, 0 as bytes)'
         else format('(select count(*) as n, coalesce(sum(size_bytes), 0) as bytes from %I.%I)', p_schema, 'files') end);
  -- No counter row and no shard: the tenant's first count (at sign-up its
  -- tables are new in this transaction, so nobody else writes them). A
  -- writer that made the row first turns this insert into nothing, and the
  -- count below runs under the lock; one that comes after waits for this row
  -- and counts its own rows in its shard.
  execute 'insert into public.tenant_counter_base (tenant_id, period, users_total, channels_total, storage_bytes, files_count)
           select $1, to_char(now() at time zone ''UTC'', ''YYYY-MM''), users, channels, bytes, files
             from (select ' || v_counts || ') c
            where not exists (select 1 from public.tenant_counter_shards s where s.tenant_id = $1)
           on conflict (tenant_id) do nothing'
    using p_tenant_id;
  get diagnostics v_first = row_count;
  if v_first = 1 then
    return;
  end if;
  -- Lock first, count after: concurrent writers either committed before the
  -- count or add themselves to the counters after it.
  perform public.tenant_counters_lock(p_tenant_id);
  execute 'select public.tenant_counters_set($1, users, channels, bytes, files) from (select ' || v_counts || ') c'
    using p_tenant_id;
end
$$;
revoke all on function public.tenant_counters_recount(name, uuid) from public;

create or replace function public.recount_tenant_counters(p_schema name, p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  perform public.tenant_counters_recount(p_schema, p_tenant_id);
end
$$;

create or replace function public.attach_tenant_triggers(p_schema name, p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_table text;
  v_rel regclass;
  v_present text[];
  v_attached boolean := false;
  v_sql text[];
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  -- Incremental: a template upgrade pays only for tables that lack a trigger
  -- (new or recreated ones). A migration that changes a trigger's definition
  -- drops it first.
  select coalesce(array_agg(c.relname || '.' || t.tgname), '{}') into v_present
  from pg_trigger t
  join pg_class c on c.oid = t.tgrelid
  where t.tgrelid in (select to_regclass(format('%I.%I', p_schema, n))
                      from unnest(array['members', 'channels', 'files', 'messages']) n)
    and t.tgname in ('_500_limits', '_800_usage');
  foreach v_table in array array['members', 'channels', 'files'] loop
    v_rel := to_regclass(format('%I.%I', p_schema, v_table));
    continue when v_rel is null;
    v_sql := public.tenant_limit_trigger_sql(p_schema, v_table, p_tenant_id);
    if not (v_table || '._500_limits') = any (v_present) then
      execute v_sql[1];
      v_attached := true;
    end if;
    if not (v_table || '._800_usage') = any (v_present) then
      execute v_sql[2];
      v_attached := true;
    end if;
  end loop;
  if to_regclass(format('%I.%I', p_schema, 'messages')) is not null and not 'messages._800_usage' = any (v_present) then
    execute format(
      'create constraint trigger _800_usage after insert on %I.%I deferrable initially deferred for each row
         when (public.usage_tally(%L)) execute function public.tg__usage_flush(%L)',
      p_schema, 'messages', 'saas_usage.messages_' || replace(p_tenant_id::text, '-', ''), p_tenant_id);
    v_attached := true;
  end if;
  -- Rows written while a trigger was missing were not counted.
  if v_attached then
    perform public.tenant_counters_recount(p_schema, p_tenant_id);
  end if;
end
$$;
revoke all on function public.attach_tenant_triggers(name, uuid) from public;
