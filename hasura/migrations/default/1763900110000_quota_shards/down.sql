-- Back to one counter row per tenant and the before/after trigger pair: the
-- shards are folded into the row first.
drop trigger if exists _700_limits_epoch on public.plans;
drop trigger if exists _700_limits_epoch on public.tenants;
drop trigger if exists _700_limits_epoch on public.tenant_settings;
drop function if exists public.tg__limits_epoch();

update public.tenant_counter_base b
   set users_total = b.users_total + s.users_total, channels_total = b.channels_total + s.channels_total,
       storage_bytes = b.storage_bytes + s.storage_bytes, files_count = b.files_count + s.files_count
  from (select tenant_id, sum(users_total)::bigint as users_total, sum(channels_total)::bigint as channels_total,
               sum(storage_bytes)::bigint as storage_bytes, sum(files_count)::bigint as files_count
          from public.tenant_counter_shards group by tenant_id) s
 where s.tenant_id = b.tenant_id;

create or replace view public.tenant_usage with (security_invoker=true) as
 SELECT t.id AS tenant_id,
    m.period,
    COALESCE(g.users_total, 0::bigint) AS users_total,
    COALESCE(g.channels_total, 0::bigint) AS channels_total,
    COALESCE(msg.messages_total, 0::numeric)::bigint AS messages_total,
    COALESCE(g.storage_bytes, 0::bigint) AS storage_bytes,
    COALESCE(g.files_count, 0::bigint) AS files_count,
    COALESCE(api.api_calls_total, 0::numeric)::bigint AS api_calls_total,
    COALESCE(api.api_calls_by_endpoint, '{}'::jsonb) AS api_calls_by_endpoint
   FROM public.tenants t
     CROSS JOIN LATERAL ( SELECT to_char(d.d, 'YYYY-MM'::text) AS period
           FROM generate_series(date_trunc('month'::text, (t.created_at AT TIME ZONE 'UTC'::text)), date_trunc('month'::text, (now() AT TIME ZONE 'UTC'::text)), '1 mon'::interval) d(d)) m
     LEFT JOIN LATERAL ( SELECT x.users_total,
            x.channels_total,
            x.storage_bytes,
            x.files_count
           FROM ( SELECT c.period,
                    c.users_total,
                    c.channels_total,
                    c.storage_bytes,
                    c.files_count
                   FROM public.tenant_counter_base c
                  WHERE c.tenant_id = t.id AND c.period <= m.period
                UNION ALL
                 SELECT h.period,
                    h.users_total,
                    h.channels_total,
                    h.storage_bytes,
                    h.files_count
                   FROM public.tenant_usage_history h
                  WHERE h.tenant_id = t.id AND h.period <= m.period) x
          ORDER BY x.period DESC
         LIMIT 1) g ON true
     LEFT JOIN LATERAL ( SELECT sum(u.messages_total) AS messages_total
           FROM public.tenant_usage_counters u
          WHERE u.tenant_id = t.id AND u.period = m.period) msg ON true
     LEFT JOIN LATERAL ( SELECT sum(a.calls) AS api_calls_total,
            jsonb_object_agg(a.endpoint, a.calls) AS api_calls_by_endpoint
           FROM public.tenant_api_calls a
          WHERE a.tenant_id = t.id AND a.period = m.period) api ON true;

drop view public.tenant_counters;
drop table public.tenant_counter_shards;
alter table public.tenant_counter_base drop column limits_epoch;
alter table public.tenant_counter_base rename to tenant_counters;
alter table public.tenant_counters rename constraint tenant_counter_base_pkey to tenant_counters_pkey;
alter table public.tenant_counters rename constraint tenant_counter_base_period_format to tenant_counters_period_format;
alter table public.tenant_counters rename constraint tenant_counter_base_tenant_id_fkey to tenant_counters_tenant_id_fkey;

CREATE OR REPLACE FUNCTION public.tenant_counters_open_period(p_tenant_id uuid, p_period text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.recount_tenant_counters(p_schema name, p_tenant_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg__limits()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg__usage()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
    if tg_op = 'DELETE' and not exists (select 1 from public.tenants t where t.id = v_tenant) then
      return null;
    end if;
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
$function$;

CREATE OR REPLACE FUNCTION public.attach_tenant_triggers(p_schema name, p_tenant_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

do $$
declare
  v_rel record;
begin
  for v_rel in
    select n.nspname, c.relname, nullif(split_part(encode(g.tgargs, 'escape'), '\000', 1), '') as tenant_id
    from pg_trigger g
    join pg_class c on c.oid = g.tgrelid
    join pg_namespace n on n.oid = c.relnamespace
    where g.tgname = '_500_limits' and c.relname in ('members', 'channels', 'files')
  loop
    execute format('drop trigger _500_limits on %I.%I', v_rel.nspname, v_rel.relname);
    execute format('drop trigger if exists _800_usage on %I.%I', v_rel.nspname, v_rel.relname);
    if v_rel.tenant_id is null then
      execute format(
        'create trigger _500_limits before insert%s on %I.%I for each row
           when (new.tenant_id = coalesce(public.current_tenant_id(), public.hasura_tenant_id(), new.tenant_id))
           execute function public.tg__limits()',
        case when v_rel.relname = 'files' then ' or update of size_bytes' else '' end, v_rel.nspname, v_rel.relname);
    else
      execute format(
        'create trigger _500_limits before insert%s on %I.%I for each row execute function public.tg__limits(%L)',
        case when v_rel.relname = 'files' then ' or update of size_bytes' else '' end, v_rel.nspname, v_rel.relname,
        v_rel.tenant_id);
    end if;
    execute format(
      'create trigger _800_usage after insert or delete%s on %I.%I for each row execute function public.tg__usage(%s)',
      case when v_rel.relname = 'files' then ' or update of size_bytes' else '' end, v_rel.nspname, v_rel.relname,
      coalesce(quote_literal(v_rel.tenant_id), ''));
  end loop;
end
$$;

drop function if exists public.tenant_limit_trigger_sql(name, name, uuid);
drop function if exists public.tenant_quota_take(uuid, smallint, text, bigint, text);
drop function if exists public.tenant_counters_add(uuid, smallint, bigint, bigint, bigint, bigint);
drop function if exists public.tenant_counters_set(uuid, bigint, bigint, bigint, bigint);
drop function if exists public.tenant_counters_lock(uuid);
