-- Undoes 1763900006000_pooled in reverse. Pooled tenants' product data goes
-- with the pooled tables (their registry rows stay, as pooled tenants without
-- data); database tenants must be hard-deleted first (their databases are
-- outside this one), so their presence stops the rollback.
do $$
begin
  if exists (select 1 from public.tenants where isolation = 'database') then
    raise exception 'database-tier tenants exist: hard-delete them first (npm run cli -- tenants hard-delete <slug>)';
  end if;
end
$$;

drop trigger if exists _900_notify on public.tenant_settings;
drop function if exists public.tg_tenant_settings__notify();

-- The definitions of 1763900000000_tenant_core and 1763900001000_limits_usage.
create or replace function public.hard_delete_tenant(p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_tenant public.tenants;
begin
  select * into v_tenant from public.tenants where id = p_tenant_id for update;
  if not found then
    raise exception 'tenant % does not exist', p_tenant_id using errcode = 'SA404';
  end if;
  if v_tenant.schema_name is not null then
    if to_regnamespace(quote_ident(v_tenant.schema_name)) is not null then
      if not public.tenant_owns_schema(v_tenant.id, v_tenant.schema_name) then
        raise exception 'schema % is not owned by tenant %; refusing to drop it',
          v_tenant.schema_name, v_tenant.slug using errcode = 'SA409';
      end if;
      execute format('drop schema %I cascade', v_tenant.schema_name);
    end if;
  end if;
  delete from public.tenants where id = v_tenant.id;
  if v_tenant.db_role is not null
     and exists (select 1 from pg_roles where rolname = v_tenant.db_role) then
    execute format('drop owned by %I', v_tenant.db_role);
    execute format('drop role %I', v_tenant.db_role);
  end if;
end
$$;
revoke all on function public.hard_delete_tenant(uuid) from public;

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

drop table if exists pooled.files;
drop table if exists pooled.messages;
drop table if exists pooled.channels;
drop table if exists pooled.members;
drop schema if exists pooled;

alter table public.tenants drop constraint if exists tenants_placement_columns;
alter table public.tenants drop constraint if exists tenants_database_url_env_format;
alter table public.tenants drop constraint if exists tenants_database_name_key;
alter table public.tenants drop column if exists database_url_env;
alter table public.tenants drop column if exists database_name;
alter table public.tenants drop constraint if exists tenants_schema_tier;
alter table public.tenants
  add constraint tenants_schema_tier check (isolation <> 'schema' or (schema_name is not null and db_role is not null));

alter table public.plans drop constraint if exists plans_placement_check;
alter table public.plans drop column if exists placement;
