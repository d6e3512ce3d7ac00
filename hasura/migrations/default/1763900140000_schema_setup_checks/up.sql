-- Attaching a new tenant's triggers at sign-up: the schema's ownership is
-- checked once (it was checked again by the recount), the triggers present
-- are read in one query (one per table and trigger before, and their SQL was
-- built even for tables that had both), and the first count is one insert of
-- the counter row instead of locking, opening the period and setting it.
-- Every CREATE TABLE discards the plans PL/pgSQL cached, so each statement
-- saved here is also a plan not made per sign-up or upgrade.

-- Securing a schema grants and revokes its own privileges only when they are
-- not already so (an upgrade rewrote the schema's catalog row twice).
create or replace function public.secure_tenant_schema(p_schema name, p_role name)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_rel record;
  v_tables text[] := '{}';
  v_sequences text[] := '{}';
begin
  -- Only what is missing: each GRANT or REVOKE rewrites the schema's catalog
  -- row, and a new schema already gives PUBLIC nothing.
  if has_schema_privilege('public', p_schema, 'USAGE') or has_schema_privilege('public', p_schema, 'CREATE') then
    execute format('revoke all on schema %I from public', p_schema);
  end if;
  if not has_schema_privilege(p_role, p_schema, 'USAGE') then
    execute format('grant usage on schema %I to %I', p_schema, p_role);
  end if;
  -- The schema's relations come from pg_depend (indexed on the namespace):
  -- pg_class has no index on relnamespace alone, and with thousands of tenant
  -- schemas a scan of it would make every provisioning and upgrade slower as
  -- tenants are added. Incremental: tables already secured (RLS forced, the
  -- role's policy in place) are skipped, so an upgrade pays only for new ones.
  for v_rel in
    select c.oid::regclass::text as rel, c.relkind,
           exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'tenant_role_all') as has_policy
    from pg_depend d
    join pg_class c on c.oid = d.objid
    where d.classid = 'pg_class'::regclass
      and d.refclassid = 'pg_namespace'::regclass
      and d.refobjid = p_schema::regnamespace
      and c.relkind in ('r', 'p', 'S')
      and not (c.relkind in ('r', 'p') and c.relrowsecurity and c.relforcerowsecurity
               and exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'tenant_role_all'))
  loop
    if v_rel.relkind = 'S' then
      v_sequences := v_sequences || v_rel.rel;
      continue;
    end if;
    execute format('alter table %s enable row level security, force row level security', v_rel.rel);
    if v_rel.has_policy then
      execute format('drop policy tenant_role_all on %s', v_rel.rel);
    end if;
    execute format('create policy tenant_role_all on %s for all to %I using (true) with check (true)', v_rel.rel, p_role);
    v_tables := v_tables || v_rel.rel;
  end loop;
  if cardinality(v_tables) > 0 then
    execute format('grant select, insert, update, delete on %s to %I', array_to_string(v_tables, ', '), p_role);
  end if;
  if cardinality(v_sequences) > 0 then
    execute format('grant usage, select on sequence %s to %I', array_to_string(v_sequences, ', '), p_role);
  end if;
end
$$;
revoke all on function public.secure_tenant_schema(name, name) from public;

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
    continue when v_rel is null
              or ((v_table || '._500_limits') = any (v_present) and (v_table || '._800_usage') = any (v_present));
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
