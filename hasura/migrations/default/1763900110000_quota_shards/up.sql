-- Plan limits without a tenant-wide lock on every insert.
--
-- Until now every counted insert (members, channels, files) locked the
-- tenant's one counter row until commit, so concurrent writers of a tenant
-- queued behind each other's commits. Now each backend keeps a shard of the
-- counters (pg_backend_pid() % 64, as the messages counters do) with a block
-- of spare quota granted to it. A row that fits its shard's spare is admitted
-- and counted by one update of that shard (_500_limits, after the row is
-- written: an upsert that skips its row counts nothing). Only when the spare
-- runs out does the insert take the tenant's lock and ask for a new block:
-- granted only if the committed counts plus every other shard's spare stay
-- within the limit, so the limit stays exact while writers work from their
-- own blocks. Blocks shrink as the limit nears (1/16 of the room left), so a
-- tenant near its limit takes the lock on every insert, as before. Deletes
-- and shrinking files count down on the shard (_800_usage).
--
--   tenant_counter_base    the counts as of the last reset or move, the
--                          month they belong to, and the limits epoch
--   tenant_counter_shards  each backend's changes since, and its spare quota
--   tenant_counters        (view) base + shards: what every reader reads
--
-- Lock order, always: the backend's own shard row, then the base row. A holder
-- of the base row never waits on another backend's shard (reclaiming spare
-- skips the ones in use), so the two kinds of lock cannot deadlock.

do $$
begin
  -- Once: a rerun finds the view of that name.
  if to_regclass('public.tenant_counter_base') is null then
    alter table public.tenant_counters rename to tenant_counter_base;
    alter table public.tenant_counter_base rename constraint tenant_counters_pkey to tenant_counter_base_pkey;
    alter table public.tenant_counter_base
      rename constraint tenant_counters_period_format to tenant_counter_base_period_format;
    alter table public.tenant_counter_base
      rename constraint tenant_counters_tenant_id_fkey to tenant_counter_base_tenant_id_fkey;
  end if;
end
$$;
-- Bumped whenever the tenant's effective limits may have changed: spare granted
-- under another epoch is no longer taken without the lock.
alter table public.tenant_counter_base add column if not exists limits_epoch bigint not null default 0;

create table if not exists public.tenant_counter_shards (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  shard smallint not null constraint tenant_counter_shards_shard_range check (shard between 0 and 63),
  -- Changes to the counts made through this shard (negative after deletes).
  users_total bigint not null default 0,
  channels_total bigint not null default 0,
  storage_bytes bigint not null default 0,
  files_count bigint not null default 0,
  -- Quota granted to this shard and not used yet.
  users_spare bigint not null default 0 constraint tenant_counter_shards_users_spare check (users_spare >= 0),
  channels_spare bigint not null default 0 constraint tenant_counter_shards_channels_spare check (channels_spare >= 0),
  storage_spare bigint not null default 0 constraint tenant_counter_shards_storage_spare check (storage_spare >= 0),
  -- The month and limits epoch the spare was granted in; -1: no spare.
  period text not null,
  epoch bigint not null default -1,
  primary key (tenant_id, shard)
) with (fillfactor = 50);
select public.enable_tenant_rls('public.tenant_counter_shards');

create or replace view public.tenant_counters with (security_invoker = true) as
select b.tenant_id,
       b.period,
       b.users_total + coalesce(s.users_total, 0)::bigint as users_total,
       b.channels_total + coalesce(s.channels_total, 0)::bigint as channels_total,
       b.storage_bytes + coalesce(s.storage_bytes, 0)::bigint as storage_bytes,
       b.files_count + coalesce(s.files_count, 0)::bigint as files_count,
       b.updated_at
from public.tenant_counter_base b
left join lateral (
  select sum(x.users_total) as users_total, sum(x.channels_total) as channels_total,
         sum(x.storage_bytes) as storage_bytes, sum(x.files_count) as files_count
  from public.tenant_counter_shards x
  where x.tenant_id = b.tenant_id
) s on true;

-- The view reads through the caller's grants and RLS.
grant select on public.tenant_counters, public.tenant_counter_base, public.tenant_counter_shards to app, hasura;

-- Same definition, now over the view (it had followed the renamed table).
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

-- Takes the tenant's lock (its base row) and closes the previous month into
-- the history when the month has turned. Shard changes count in the month
-- they are folded at: those committed by now.
create or replace function public.tenant_counters_open_period(p_tenant_id uuid, p_period text)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_period text;
begin
  insert into public.tenant_counter_base (tenant_id, period) values (p_tenant_id, p_period)
  on conflict (tenant_id) do nothing;
  select b.period into v_period from public.tenant_counter_base b where b.tenant_id = p_tenant_id for update;
  -- A transaction that began before midnight may commit after a newer one: never move back.
  if v_period < p_period then
    insert into public.tenant_usage_history as h (tenant_id, period, users_total, channels_total, storage_bytes, files_count)
    select c.tenant_id, v_period, c.users_total, c.channels_total, c.storage_bytes, c.files_count
    from public.tenant_counters c where c.tenant_id = p_tenant_id
    on conflict (tenant_id, period) do update
      set users_total = excluded.users_total, channels_total = excluded.channels_total,
          storage_bytes = excluded.storage_bytes, files_count = excluded.files_count;
    update public.tenant_counter_base set period = p_period where tenant_id = p_tenant_id;
  end if;
end
$$;
revoke all on function public.tenant_counters_open_period(uuid, text) from public;

-- Every shard of the tenant, then its base row: nothing changes the counts
-- until the caller's transaction ends.
create or replace function public.tenant_counters_lock(p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform 1 from public.tenant_counter_shards s where s.tenant_id = p_tenant_id order by s.shard for update;
  perform public.tenant_counters_open_period(p_tenant_id, to_char(now() at time zone 'UTC', 'YYYY-MM'));
end
$$;
revoke all on function public.tenant_counters_lock(uuid) from public;

-- Sets the counts outright (a recount, an import, a move): the shards and
-- their spare go, and the next insert of each backend asks for a new block.
create or replace function public.tenant_counters_set(p_tenant_id uuid, p_users bigint, p_channels bigint,
                                                      p_storage bigint, p_files bigint)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform public.tenant_counters_lock(p_tenant_id);
  delete from public.tenant_counter_shards where tenant_id = p_tenant_id;
  update public.tenant_counter_base
     set users_total = p_users, channels_total = p_channels, storage_bytes = p_storage, files_count = p_files,
         updated_at = now()
   where tenant_id = p_tenant_id;
end
$$;
revoke all on function public.tenant_counters_set(uuid, bigint, bigint, bigint, bigint) from public;

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
  perform public.tenant_counters_lock(p_tenant_id);
  if to_regclass(format('%I.%I', p_schema, 'members')) is not null then
    execute format('select count(*) from %I.%I', p_schema, 'members') into v_users;
  end if;
  if to_regclass(format('%I.%I', p_schema, 'channels')) is not null then
    execute format('select count(*) from %I.%I', p_schema, 'channels') into v_channels;
  end if;
  if to_regclass(format('%I.%I', p_schema, 'files')) is not null then
    execute format('select count(*), coalesce(sum(size_bytes), 0) from %I.%I', p_schema, 'files') into v_files, v_storage;
  end if;
  perform public.tenant_counters_set(p_tenant_id, v_users, v_channels, v_storage, v_files);
end
$$;
revoke all on function public.recount_tenant_counters(name, uuid) from public;

-- Adds to the counts on a backend's shard, admitting nothing (deletes, files
-- that shrink or are empty).
create or replace function public.tenant_counters_add(p_tenant_id uuid, p_shard smallint, p_users bigint,
                                                      p_channels bigint, p_storage bigint, p_files bigint)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  update public.tenant_counter_shards s
     set users_total = s.users_total + p_users, channels_total = s.channels_total + p_channels,
         storage_bytes = s.storage_bytes + p_storage, files_count = s.files_count + p_files
   where s.tenant_id = p_tenant_id and s.shard = p_shard;
  -- A row deleted with its tenant: nothing left to count.
  if found or not exists (select 1 from public.tenants t where t.id = p_tenant_id) then
    return;
  end if;
  insert into public.tenant_counter_shards as s (tenant_id, shard, period, users_total, channels_total, storage_bytes,
                                                 files_count)
  values (p_tenant_id, p_shard, to_char(now() at time zone 'UTC', 'YYYY-MM'), p_users, p_channels, p_storage, p_files)
  on conflict (tenant_id, shard) do update
    set users_total = s.users_total + excluded.users_total, channels_total = s.channels_total + excluded.channels_total,
        storage_bytes = s.storage_bytes + excluded.storage_bytes, files_count = s.files_count + excluded.files_count;
end
$$;
revoke all on function public.tenant_counters_add(uuid, smallint, bigint, bigint, bigint, bigint) from public;

-- The slow path of _500_limits: the row did not fit its shard's spare. Under
-- the tenant's lock, grants the shard the amount plus a block of spare if the
-- committed counts and the other shards' spare leave room, taking back the
-- spare of shards not in use when they do not; refuses with SA429 otherwise.
create or replace function public.tenant_quota_take(p_tenant_id uuid, p_shard smallint, p_limit text,
                                                    p_amount bigint, p_period text)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_epoch bigint;
  v_plan text;
  v_max bigint;
  v_used numeric;
  v_held numeric;
  v_grant bigint;
  v_message text;
begin
  -- Unknown tenant: the foreign key decides.
  if not exists (select 1 from public.tenants t where t.id = p_tenant_id) then
    return;
  end if;
  insert into public.tenant_counter_shards (tenant_id, shard, period) values (p_tenant_id, p_shard, p_period)
  on conflict (tenant_id, shard) do nothing;
  perform 1 from public.tenant_counter_shards where tenant_id = p_tenant_id and shard = p_shard for update;
  perform public.tenant_counters_open_period(p_tenant_id, p_period);
  select b.limits_epoch into strict v_epoch from public.tenant_counter_base b where b.tenant_id = p_tenant_id;
  select l.plan,
         case p_limit when 'users' then l.max_users when 'channels' then l.max_channels else l.max_storage_bytes end
    into v_plan, v_max
  from public.tenant_effective_limits(p_tenant_id) l;

  if v_max is null or v_max < 0 then
    -- Unlimited: a block no insert can use up; a change of limits ends it.
    v_grant := 4611686018427387904;
  else
    for attempt in 1..2 loop
      select b.c + coalesce(sum(s.c), 0), coalesce(sum(s.spare) filter (where s.shard <> p_shard), 0)
        into v_used, v_held
      from (select case p_limit when 'users' then users_total when 'channels' then channels_total
                                else storage_bytes end as c
            from public.tenant_counter_base where tenant_id = p_tenant_id) b
      left join (select x.shard,
                        case p_limit when 'users' then x.users_total when 'channels' then x.channels_total
                                     else x.storage_bytes end as c,
                        case p_limit when 'users' then x.users_spare when 'channels' then x.channels_spare
                                     else x.storage_spare end as spare
                 from public.tenant_counter_shards x where x.tenant_id = p_tenant_id) s on true
      group by b.c;
      exit when v_used + v_held + p_amount <= v_max or v_held = 0 or attempt = 2;
      -- Take back what idle shards hold; a shard in use keeps its block until
      -- its transaction ends (waiting for it under this lock could deadlock).
      update public.tenant_counter_shards s
         set users_spare = case when p_limit = 'users' then 0 else s.users_spare end,
             channels_spare = case when p_limit = 'channels' then 0 else s.channels_spare end,
             storage_spare = case when p_limit = 'storage_bytes' then 0 else s.storage_spare end
       where (s.tenant_id, s.shard) in (
         select x.tenant_id, x.shard from public.tenant_counter_shards x
          where x.tenant_id = p_tenant_id and x.shard <> p_shard
            and case p_limit when 'users' then x.users_spare when 'channels' then x.channels_spare
                             else x.storage_spare end > 0
          for update skip locked);
    end loop;

    if v_used + v_held + p_amount > v_max then
      v_message := case p_limit
        when 'storage_bytes' then format(
          'storage limit reached: the %s plan allows %s (%s bytes) of files, %s bytes are used and this change needs %s more',
          v_plan, pg_size_pretty(v_max), v_max, v_used, p_amount)
        else format('%s limit reached: the %s plan allows %s %s and this tenant has %s',
                    p_limit, v_plan, v_max, p_limit, v_used)
      end;
      raise exception using
        errcode = 'SA429',
        message = v_message,
        detail = json_build_object('limit', p_limit, 'plan', v_plan, 'max', v_max, 'usage', v_used,
                                   'requested', p_amount)::text,
        hint = 'Upgrade the plan or free some capacity first.';
    end if;
    -- The amount and a sixteenth of the room left after it, at most 256 rows or
    -- 1 GiB: far from the limit a backend comes back rarely, near it every time.
    v_grant := p_amount + least(floor((v_max - v_used - v_held - p_amount) / 16),
                                case p_limit when 'storage_bytes' then 1073741824 else 256 end);
  end if;

  -- Spare of another epoch or month is given up with the new grant.
  update public.tenant_counter_shards s
     set users_spare = case when p_limit = 'users' then v_grant
                            when s.epoch = v_epoch and s.period = p_period then s.users_spare else 0 end,
         channels_spare = case when p_limit = 'channels' then v_grant
                               when s.epoch = v_epoch and s.period = p_period then s.channels_spare else 0 end,
         storage_spare = case when p_limit = 'storage_bytes' then v_grant
                              when s.epoch = v_epoch and s.period = p_period then s.storage_spare else 0 end,
         epoch = v_epoch,
         period = p_period
   where s.tenant_id = p_tenant_id and s.shard = p_shard;
end
$$;
revoke all on function public.tenant_quota_take(uuid, smallint, text, bigint, text) from public;

-- _500_limits (after insert, and after a file's size changes): admits the
-- row's growth against the plan limit and counts it, in one update of the
-- backend's shard when its spare covers it.
create or replace function public.tg__limits()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_limit text;
  v_users bigint := 0;
  v_channels bigint := 0;
  v_storage bigint := 0;
  v_files bigint := 0;
  v_amount bigint;
  v_shard smallint := pg_backend_pid() % 64;
  v_period text;
begin
  if tg_nargs > 0 and tg_argv[0] <> '' then
    v_tenant := tg_argv[0]::uuid;
  else
    v_tenant := new.tenant_id;
  end if;

  case tg_table_name
    when 'members' then
      v_limit := 'users';
      v_users := 1;
      v_amount := 1;
    when 'channels' then
      v_limit := 'channels';
      v_channels := 1;
      v_amount := 1;
    when 'files' then
      v_limit := 'storage_bytes';
      if tg_op = 'UPDATE' then
        v_storage := new.size_bytes - old.size_bytes;
      else
        v_storage := new.size_bytes;
        v_files := 1;
      end if;
      v_amount := v_storage;
    else
      raise exception 'tg__limits: no plan limit applies to table %', tg_table_name;
  end case;
  if v_amount <= 0 then
    perform public.tenant_counters_add(v_tenant, v_shard, v_users, v_channels, v_storage, v_files);
    return null;
  end if;

  v_period := to_char(now() at time zone 'UTC', 'YYYY-MM');
  for attempt in 1..2 loop
    update public.tenant_counter_shards s
       set users_total = s.users_total + v_users,
           channels_total = s.channels_total + v_channels,
           storage_bytes = s.storage_bytes + v_storage,
           files_count = s.files_count + v_files,
           users_spare = s.users_spare - v_users,
           channels_spare = s.channels_spare - v_channels,
           storage_spare = s.storage_spare - v_storage
     where s.tenant_id = v_tenant and s.shard = v_shard and s.period = v_period
       and s.epoch = (select b.limits_epoch from public.tenant_counter_base b where b.tenant_id = v_tenant)
       and case v_limit when 'users' then s.users_spare when 'channels' then s.channels_spare
                        else s.storage_spare end >= v_amount;
    exit when found or attempt = 2;
    perform public.tenant_quota_take(v_tenant, v_shard, v_limit, v_amount, v_period);
  end loop;
  return null;
end
$$;
revoke all on function public.tg__limits() from public;

-- _800_usage (after delete): the row is counted down on the backend's shard.
create or replace function public.tg__usage()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tenant uuid;
  v_shard smallint := pg_backend_pid() % 64;
begin
  if tg_nargs > 0 and tg_argv[0] <> '' then
    v_tenant := tg_argv[0]::uuid;
  else
    v_tenant := old.tenant_id;
  end if;
  case tg_table_name
    when 'members' then
      perform public.tenant_counters_add(v_tenant, v_shard, -1, 0, 0, 0);
    when 'channels' then
      perform public.tenant_counters_add(v_tenant, v_shard, 0, -1, 0, 0);
    when 'files' then
      perform public.tenant_counters_add(v_tenant, v_shard, 0, 0, -old.size_bytes, -1);
    else
      raise exception 'tg__usage: no usage is metered for table %', tg_table_name;
  end case;
  return null;
end
$$;
revoke all on function public.tg__usage() from public;

-- A change of plan, of a plan's limits or of a tenant's overrides ends the
-- spare granted under the old limits (it takes the tenant's lock, so no grant
-- is half-way through it).
create or replace function public.tg__limits_epoch()
returns trigger
language plpgsql
security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if tg_table_name = 'plans' then
    update public.tenant_counter_base b set limits_epoch = b.limits_epoch + 1
     where b.tenant_id in (select t.id from public.tenants t where t.plan = new.id);
  elsif tg_table_name = 'tenants' then
    update public.tenant_counter_base b set limits_epoch = b.limits_epoch + 1 where b.tenant_id = new.id;
  elsif tg_op = 'INSERT' or old.limit_overrides is distinct from new.limit_overrides then
    update public.tenant_counter_base b set limits_epoch = b.limits_epoch + 1 where b.tenant_id = new.tenant_id;
  end if;
  return null;
end
$$;
revoke all on function public.tg__limits_epoch() from public;

drop trigger if exists _700_limits_epoch on public.plans;
create trigger _700_limits_epoch after update of max_users, max_channels, max_storage_bytes on public.plans
  for each row when (old.max_users is distinct from new.max_users or old.max_channels is distinct from new.max_channels
                     or old.max_storage_bytes is distinct from new.max_storage_bytes)
  execute function public.tg__limits_epoch();
drop trigger if exists _700_limits_epoch on public.tenants;
create trigger _700_limits_epoch after update of plan on public.tenants
  for each row when (old.plan is distinct from new.plan) execute function public.tg__limits_epoch();
drop trigger if exists _700_limits_epoch on public.tenant_settings;
create trigger _700_limits_epoch after insert or update of limit_overrides on public.tenant_settings
  for each row execute function public.tg__limits_epoch();

-- The limits trigger now runs after the row (one call admits and counts it);
-- the usage trigger counts deletes. A row another tenant's RLS refuses never
-- reaches either, so the pooled tables need no condition on them any more.
create or replace function public.tenant_limit_trigger_sql(p_schema name, p_table name, p_tenant_id uuid)
returns text[]
language sql
immutable
set search_path = pg_catalog
as $$
  select array[
    format('create trigger _500_limits after insert%s on %I.%I for each row execute function public.tg__limits(%s)',
           case when p_table = 'files' then ' or update of size_bytes' else '' end, p_schema, p_table,
           case when p_tenant_id is null then '' else quote_literal(p_tenant_id) end),
    format('create trigger _800_usage after delete on %I.%I for each row execute function public.tg__usage(%s)',
           p_schema, p_table, case when p_tenant_id is null then '' else quote_literal(p_tenant_id) end)
  ]
$$;
revoke all on function public.tenant_limit_trigger_sql(name, name, uuid) from public;

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

-- Every existing table gets the new pair; the counts carry over in the base.
do $$
declare
  v_rel record;
  v_sql text;
begin
  for v_rel in
    select n.nspname, c.relname,
           -- The tenant the old trigger was made for (none on the pooled tables).
           nullif(split_part(encode(g.tgargs, 'escape'), '\000', 1), '')::uuid as tenant_id
    from pg_trigger g
    join pg_class c on c.oid = g.tgrelid
    join pg_namespace n on n.oid = c.relnamespace
    where g.tgname = '_500_limits' and c.relname in ('members', 'channels', 'files')
  loop
    execute format('drop trigger _500_limits on %I.%I', v_rel.nspname, v_rel.relname);
    execute format('drop trigger if exists _800_usage on %I.%I', v_rel.nspname, v_rel.relname);
    foreach v_sql in array public.tenant_limit_trigger_sql(v_rel.nspname, v_rel.relname, v_rel.tenant_id) loop
      execute v_sql;
    end loop;
  end loop;
end
$$;
