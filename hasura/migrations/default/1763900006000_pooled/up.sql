-- Placement tiers: the pooled tier's shared tables, the
-- registry columns of the database tier, and per-plan placement. A tenant is
-- served from exactly one placement, recorded in its registry row:
--   schema    tenant_<slug> schema in this database (schema_name, db_role);
--   pooled    rows of the tables below carrying its tenant_id (no schema, no
--             role: creating one is registry rows only, no DDL);
--   database  a dedicated database built from the same template
--             (database_name, on this server or on the server whose URL is in
--             the environment variable database_url_env; the registry keeps
--             the setting's name, never a URL or password), holding the
--             tenant_<slug> schema (schema_name, db_role) there.
-- Safe to run twice (nself runs every up.sql through psql without stopping).

------------------------------------------------------------------------------
-- schemas
------------------------------------------------------------------------------
create schema if not exists pooled;
revoke all on schema pooled from public;

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
-- Where new tenants of a plan are placed when a platform admin does not choose:
-- null defers to DEFAULT_ISOLATION (schema unless configured, the documented default).
alter table public.plans add column if not exists placement text;
alter table public.plans drop constraint if exists plans_placement_check;
alter table public.plans
  add constraint plans_placement_check check (placement in ('schema', 'pooled', 'database'));

alter table public.tenants
  add column if not exists database_name text,
  add column if not exists database_url_env text;
alter table public.tenants drop constraint if exists tenants_database_name_key;
alter table public.tenants add constraint tenants_database_name_key unique (database_name);
alter table public.tenants drop constraint if exists tenants_database_url_env_format;
alter table public.tenants
  add constraint tenants_database_url_env_format
  check (database_url_env ~ '^TENANT_DATABASE_URL_[A-Z0-9_]{1,40}$');
-- The columns say where the tenant is served from, and nothing else: a row
-- never names a second placement.
alter table public.tenants drop constraint if exists tenants_schema_tier;
alter table public.tenants drop constraint if exists tenants_placement_columns;
alter table public.tenants
  add constraint tenants_placement_columns check (case isolation
    when 'schema' then schema_name is not null and db_role is not null
                       and database_name is null and database_url_env is null
    when 'pooled' then schema_name is null and db_role is null
                       and database_name is null and database_url_env is null
    when 'database' then schema_name is not null and db_role is not null and database_name is not null
  end);

-- The template's tables (sql/tenant/0001_init.sql) shared by every pooled
-- tenant, shaped for Citus row-based sharding (ARCHITECTURE.md §11): tenant_id leads
-- every key and index, foreign keys are composite and cascade within the
-- tenant. tenant_id defaults to the transaction's tenant (app.tenant_id, or a
-- Hasura mutation's session), so unqualified SQL is the same for every tier.
create table if not exists pooled.members (
  tenant_id uuid not null default coalesce(public.current_tenant_id(), public.hasura_tenant_id())
    references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  identity_id uuid,
  display_name text not null check (length(btrim(display_name)) between 1 and 200),
  email text check (email is null or email = lower(email)),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint members_identity_id_key unique (tenant_id, identity_id)
);

create table if not exists pooled.channels (
  tenant_id uuid not null default coalesce(public.current_tenant_id(), public.hasura_tenant_id())
    references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 100),
  is_private boolean not null default false,
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint channels_name_key unique (tenant_id, name),
  constraint channels_created_by_fkey foreign key (tenant_id, created_by)
    references pooled.members (tenant_id, id) on delete cascade
);

create table if not exists pooled.messages (
  tenant_id uuid not null default coalesce(public.current_tenant_id(), public.hasura_tenant_id())
    references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  channel_id uuid not null,
  member_id uuid,
  body text not null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint messages_channel_id_fkey foreign key (tenant_id, channel_id)
    references pooled.channels (tenant_id, id) on delete cascade,
  constraint messages_member_id_fkey foreign key (tenant_id, member_id)
    references pooled.members (tenant_id, id) on delete cascade
);

create table if not exists pooled.files (
  tenant_id uuid not null default coalesce(public.current_tenant_id(), public.hasura_tenant_id())
    references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  channel_id uuid,
  member_id uuid,
  name text not null,
  content_type text,
  size_bytes bigint not null check (size_bytes >= 0),
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint files_channel_id_fkey foreign key (tenant_id, channel_id)
    references pooled.channels (tenant_id, id) on delete cascade,
  constraint files_member_id_fkey foreign key (tenant_id, member_id)
    references pooled.members (tenant_id, id) on delete cascade
);

------------------------------------------------------------------------------
-- indexes (the template's, each led by tenant_id)
------------------------------------------------------------------------------
create index if not exists channels_created_by_idx on pooled.channels (tenant_id, created_by);
create index if not exists messages_channel_id_created_at_idx on pooled.messages (tenant_id, channel_id, created_at);
create index if not exists messages_member_id_idx on pooled.messages (tenant_id, member_id);
create index if not exists files_channel_id_idx on pooled.files (tenant_id, channel_id);
create index if not exists files_member_id_idx on pooled.files (tenant_id, member_id);

------------------------------------------------------------------------------
-- RLS: forced, app by app.tenant_id, hasura by the session's tenant (writes)
-- and by its permission filters (reads), see enable_tenant_rls
------------------------------------------------------------------------------
select public.enable_tenant_rls('pooled.members');
select public.enable_tenant_rls('pooled.channels');
select public.enable_tenant_rls('pooled.messages');
select public.enable_tenant_rls('pooled.files');

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- As in 1763900001000_limits_usage, plus one case: a pooled tenant's rows are
-- deleted by cascade from its registry row, and the counter row may already
-- be gone by then (its own cascade), with nothing left to count.
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
$$;
revoke all on function public.tg__usage() from public;

-- As in 1763900000000_tenant_core, plus one refusal: a database-tier tenant's
-- database must be dropped first (its role cannot go while it owns objects
-- there), which only the actions server can do (DROP DATABASE runs outside a
-- transaction): `npm run cli -- tenants hard-delete <slug>`. A pooled tenant's
-- rows go with its registry row (on delete cascade).
-- SQLSTATE SA404: unknown tenant; SA409: the schema is not tenant-owned, or the
-- tenant's database still exists on this server.
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
  if v_tenant.database_name is not null and v_tenant.database_url_env is null
     and exists (select 1 from pg_database d where d.datname = v_tenant.database_name) then
    raise exception 'the database % of tenant % still exists; drop it first (npm run cli -- tenants hard-delete %)',
      v_tenant.database_name, v_tenant.slug, v_tenant.slug using errcode = 'SA409';
  end if;
  -- A database tenant's schema lives in its own database, not here.
  if v_tenant.schema_name is not null and v_tenant.database_name is null then
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

-- A database tenant's database keeps a copy of its plan limits and feature
-- overrides (its limit triggers read them there); the actions servers refresh
-- that copy when told on tenant_changed, which the tenants row already sends.
create or replace function public.tg_tenant_settings__notify() returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform pg_notify('tenant_changed', json_build_object(
    'id', new.tenant_id, 'slugs', json_build_array(), 'domains', json_build_array())::text);
  return null;
end
$$;

------------------------------------------------------------------------------
-- triggers: plan limits and usage, as attach_tenant_triggers gives a schema
-- tenant, without arguments (the tenant is NEW.tenant_id / OLD.tenant_id).
-- BEFORE triggers run before row-level security checks the new row, so the
-- limit is checked only for a row of the session's own tenant (or when no
-- tenant is set: the owner's work): a row naming another tenant is left to
-- RLS to refuse, and its refusal never reveals that tenant's plan or usage.
------------------------------------------------------------------------------
do $$
declare
  v_table text;
begin
  foreach v_table in array array['members', 'channels', 'files'] loop
    execute format('drop trigger if exists _500_limits on pooled.%I', v_table);
    execute format(
      'create trigger _500_limits before insert%s on pooled.%I for each row
         when (new.tenant_id = coalesce(public.current_tenant_id(), public.hasura_tenant_id(), new.tenant_id))
         execute function public.tg__limits()',
      case when v_table = 'files' then ' or update of size_bytes' else '' end, v_table);
    execute format('drop trigger if exists _800_usage on pooled.%I', v_table);
    execute format(
      'create trigger _800_usage after insert or delete%s on pooled.%I for each row execute function public.tg__usage()',
      case when v_table = 'files' then ' or update of size_bytes' else '' end, v_table);
  end loop;
end
$$;
drop trigger if exists _800_usage on pooled.messages;
create constraint trigger _800_usage after insert on pooled.messages deferrable initially deferred
  for each row when (public.usage_tally('messages', new.tenant_id)) execute function public.tg__usage_flush();

drop trigger if exists _900_notify on public.tenant_settings;
create trigger _900_notify after update of limit_overrides, features on public.tenant_settings
  for each row execute function public.tg_tenant_settings__notify();

------------------------------------------------------------------------------
-- grants (policies above decide the rows; these decide the columns)
------------------------------------------------------------------------------
grant usage on schema pooled to app, hasura;
revoke all on all tables in schema pooled from public, app, hasura;

grant select, delete on pooled.members, pooled.channels, pooled.messages, pooled.files to app, hasura;
-- app may choose ids (a caller's idempotent write); Hasura inserts get tenant_id
-- from the session (metadata presets) and ids from the defaults.
grant insert (tenant_id, id, identity_id, display_name, email) on pooled.members to app;
grant insert (tenant_id, identity_id, display_name, email) on pooled.members to hasura;
grant update (identity_id, display_name, email) on pooled.members to app, hasura;
grant insert (tenant_id, id, name, is_private, created_by) on pooled.channels to app;
grant insert (tenant_id, name, is_private, created_by) on pooled.channels to hasura;
grant update (name, is_private, created_by) on pooled.channels to app, hasura;
grant insert (tenant_id, id, channel_id, member_id, body) on pooled.messages to app;
grant insert (tenant_id, channel_id, member_id, body) on pooled.messages to hasura;
grant update (channel_id, member_id, body) on pooled.messages to app, hasura;
grant insert (tenant_id, id, channel_id, member_id, name, content_type, size_bytes) on pooled.files to app;
grant insert (tenant_id, channel_id, member_id, name, content_type, size_bytes) on pooled.files to hasura;
grant update (channel_id, member_id, name, content_type, size_bytes) on pooled.files to app, hasura;
