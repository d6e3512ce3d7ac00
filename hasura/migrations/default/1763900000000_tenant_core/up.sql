-- Tenant core: database roles, the global registry (plans, tenants, identities,
-- memberships, tenant_settings), the RLS helpers every tenant-scoped table uses,
-- and the SQL side of schema-tier provisioning. Safe to run twice (nself runs
-- every up.sql through psql without stopping on errors).

------------------------------------------------------------------------------
-- roles
------------------------------------------------------------------------------
-- Roles are cluster-wide, so concurrent migrations of several databases on one
-- server may race to create them: swallow the duplicate.
do $$
begin
  begin
    create role app nologin nobypassrls;
  exception when duplicate_object or unique_violation then null;
  end;
  begin
    create role hasura nologin nobypassrls;
  exception when duplicate_object or unique_violation then null;
  end;
end
$$;
-- The migration owner switches into these roles per transaction (SET LOCAL ROLE).
grant app to current_user;
grant hasura to current_user;


------------------------------------------------------------------------------
-- types (and the immutable helpers table constraints need)
------------------------------------------------------------------------------
-- Names that would collide with platform hosts (www.<base>, api.<base>, ...).
create or replace function public.slug_is_reserved(p_slug text) returns boolean
language sql immutable parallel safe
set search_path = pg_catalog
as $$
  select p_slug = any (array[
    'www', 'api', 'admin', 'app', 'auth', 'mail', 'static', 'status', 'hasura', 'graphql',
    'console', 'billing', 'dashboard', 'docs', 'help', 'support', 'blog', 'cdn', 'assets',
    'smtp', 'ftp', 'root', 'system', 'internal', 'localhost', 'public', 'tenant', 'tenants'
  ])
$$;

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
create table if not exists public.plans (
  id text primary key check (id ~ '^[a-z][a-z0-9_]{1,30}$'),
  name text not null,
  -- -1 means unlimited for every limit column.
  max_users bigint not null,
  max_channels bigint not null,
  max_storage_bytes bigint not null,
  max_api_calls_month bigint not null,
  rate_limit_per_minute integer not null check (rate_limit_per_minute > 0),
  rate_limit_per_hour integer not null check (rate_limit_per_hour > 0),
  price_monthly_cents bigint,
  price_yearly_cents bigint,
  trial_days integer not null default 0 check (trial_days >= 0),
  self_serve boolean not null default true,
  features jsonb not null default '{}'::jsonb,
  sort_order integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists public.tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 200),
  slug text not null,
  status text not null default 'active'
    check (status in ('trial', 'active', 'suspended', 'cancelled', 'archived')),
  isolation text not null default 'schema' check (isolation in ('schema', 'pooled', 'database')),
  schema_name text,
  db_role text,
  template_version bigint,
  custom_domain text,
  custom_domain_verified_at timestamptz,
  plan text not null default 'free' references public.plans (id) on delete restrict,
  trial_ends_at timestamptz,
  suspended_at timestamptz,
  cancelled_at timestamptz,
  archived_at timestamptz,
  branding jsonb not null default '{}'::jsonb check (jsonb_typeof(branding) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint tenants_slug_key unique (slug),
  constraint tenants_slug_format check (slug ~ '^[a-z][a-z0-9-]{1,39}$'),
  constraint tenants_slug_not_reserved check (not public.slug_is_reserved(slug)),
  constraint tenants_schema_name_key unique (schema_name),
  constraint tenants_db_role_key unique (db_role),
  constraint tenants_custom_domain_key unique (custom_domain),
  constraint tenants_custom_domain_format check (
    custom_domain is null or custom_domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$'),
  constraint tenants_schema_tier check (isolation <> 'schema' or (schema_name is not null and db_role is not null))
);

create table if not exists public.identities (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  name text,
  password_hash text,
  is_platform_admin boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint identities_email_key unique (email),
  constraint identities_email_format check (email = lower(email) and email ~ '^[^@\s]+@[^@\s]+$')
);

create table if not exists public.memberships (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  identity_id uuid not null references public.identities (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, identity_id)
);

create table if not exists public.tenant_settings (
  tenant_id uuid primary key references public.tenants (id) on delete cascade,
  settings jsonb not null default '{}'::jsonb check (jsonb_typeof(settings) = 'object'),
  -- Per-tenant feature overrides on top of plans.features.
  features jsonb not null default '{}'::jsonb check (jsonb_typeof(features) = 'object'),
  updated_at timestamptz not null default now()
);

------------------------------------------------------------------------------
-- indexes
------------------------------------------------------------------------------
create index if not exists memberships_identity_id_idx on public.memberships (identity_id);
create index if not exists tenants_status_cancelled_at_idx on public.tenants (status, cancelled_at);
create index if not exists tenants_plan_idx on public.tenants (plan);

------------------------------------------------------------------------------
-- RLS helpers
------------------------------------------------------------------------------
-- Plain, inlinable SQL (no SET clause, not security definer) so a policy such as
-- `tenant_id = public.current_tenant_id()` becomes an index condition evaluated
-- once per scan, not a per-row function call.
create or replace function public.current_tenant_id() returns uuid
language sql stable parallel safe
as $$ select nullif(current_setting('app.tenant_id', true), '')::uuid $$;

create or replace function public.current_user_id() returns uuid
language sql stable parallel safe
as $$ select nullif(current_setting('app.user_id', true), '')::uuid $$;

-- Hasura sets hasura.user (lower-cased x-hasura-* keys, string values) with SET
-- LOCAL in mutations only; on a reused connection it can read as '' afterwards.
create or replace function public.hasura_session() returns jsonb
language sql stable parallel safe
as $$ select nullif(current_setting('hasura.user', true), '')::jsonb $$;

create or replace function public.hasura_tenant_id() returns uuid
language sql stable parallel safe
as $$ select nullif(public.hasura_session() ->> 'x-hasura-tenant-id', '')::uuid $$;

create or replace function public.hasura_role() returns text
language sql stable parallel safe
as $$ select public.hasura_session() ->> 'x-hasura-role' $$;

-- The one place the standard tenant policies are written, for every table keyed
-- by a tenant column:
--   app     all commands, tenant = app.tenant_id (set per transaction);
--   hasura  SELECT lets rows through when no session is set (GraphQL reads carry
--           none, Hasura's permission filters guard them) and restricts to the
--           session's tenant when one is; writes need the session's tenant, or
--           Hasura's admin role (console, admin secret).
create or replace function public.enable_tenant_rls(p_table regclass, p_tenant_column name default 'tenant_id')
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  execute format('alter table %s enable row level security', p_table);
  execute format('alter table %s force row level security', p_table);

  execute format('drop policy if exists app_tenant on %s', p_table);
  execute format(
    'create policy app_tenant on %s as permissive for all to app
       using (%2$I = public.current_tenant_id()) with check (%2$I = public.current_tenant_id())',
    p_table, p_tenant_column);

  execute format('drop policy if exists hasura_select on %s', p_table);
  execute format(
    'create policy hasura_select on %s for select to hasura
       using (public.hasura_tenant_id() is null or %2$I = public.hasura_tenant_id())',
    p_table, p_tenant_column);

  execute format('drop policy if exists hasura_insert on %s', p_table);
  execute format(
    'create policy hasura_insert on %s for insert to hasura
       with check (public.hasura_role() = ''admin'' or %2$I = public.hasura_tenant_id())',
    p_table, p_tenant_column);

  execute format('drop policy if exists hasura_update on %s', p_table);
  execute format(
    'create policy hasura_update on %s for update to hasura
       using (public.hasura_role() = ''admin'' or %2$I = public.hasura_tenant_id())
       with check (public.hasura_role() = ''admin'' or %2$I = public.hasura_tenant_id())',
    p_table, p_tenant_column);

  execute format('drop policy if exists hasura_delete on %s', p_table);
  execute format(
    'create policy hasura_delete on %s for delete to hasura
       using (public.hasura_role() = ''admin'' or %2$I = public.hasura_tenant_id())',
    p_table, p_tenant_column);
end
$$;
revoke all on function public.enable_tenant_rls(regclass, name) from public;

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
select public.enable_tenant_rls('public.tenants', 'id');
select public.enable_tenant_rls('public.memberships');
select public.enable_tenant_rls('public.tenant_settings');

-- Plans are reference data: readable by everyone, written by migrations only.
alter table public.plans enable row level security;
alter table public.plans force row level security;
drop policy if exists plans_read on public.plans;
create policy plans_read on public.plans for select to app, hasura using (true);

-- Identities are global (a person may belong to several tenants). The app sees
-- the identity of the current request's user and of its tenant's members through
-- login/lookup functions below; Hasura sees only the session user.
alter table public.identities enable row level security;
alter table public.identities force row level security;
drop policy if exists identities_app_self on public.identities;
create policy identities_app_self on public.identities for select to app
  using (id = public.current_user_id());
drop policy if exists identities_app_update_self on public.identities;
create policy identities_app_update_self on public.identities for update to app
  using (id = public.current_user_id()) with check (id = public.current_user_id());
drop policy if exists identities_hasura_update_self on public.identities;
create policy identities_hasura_update_self on public.identities for update to hasura
  using (id = nullif(public.hasura_session() ->> 'x-hasura-user-id', '')::uuid)
  with check (id = nullif(public.hasura_session() ->> 'x-hasura-user-id', '')::uuid);
drop policy if exists identities_hasura_self on public.identities;
create policy identities_hasura_self on public.identities for select to hasura
  using (public.hasura_session() is null
         or public.hasura_role() = 'admin'
         or id = nullif(public.hasura_session() ->> 'x-hasura-user-id', '')::uuid);

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
create or replace function public.tg__timestamps() returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  new.updated_at := case when tg_op = 'INSERT' then coalesce(new.updated_at, now()) else now() end;
  return new;
end
$$;

-- Resolution caches in every actions-server process listen on this channel, so a
-- suspension or a domain change takes effect at once, not after a cache TTL.
create or replace function public.tg_tenants__notify() returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row public.tenants := coalesce(new, old);
begin
  perform pg_notify('tenant_changed', json_build_object(
    'id', v_row.id,
    'slugs', json_build_array(old.slug, new.slug),
    'domains', json_build_array(old.custom_domain, new.custom_domain)
  )::text);
  return null;
end
$$;

-- Login: the app role cannot read password hashes; this function returns the
-- hash of one email, with the membership role in the given tenant (null tenant:
-- platform administrators only). Executable by app alone.
create or replace function public.login_lookup(p_tenant_id uuid, p_email text)
returns table (identity_id uuid, password_hash text, role text, is_platform_admin boolean)
language sql stable security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select i.id, i.password_hash, m.role, i.is_platform_admin
  from public.identities i
  left join public.memberships m on m.identity_id = i.id and m.tenant_id = p_tenant_id
  where i.email = lower(p_email)
    and (m.role is not null or (p_tenant_id is null and i.is_platform_admin))
$$;
revoke all on function public.login_lookup(uuid, text) from public;
grant execute on function public.login_lookup(uuid, text) to app;

-- Gives a freshly built (or upgraded) tenant schema its guard: every table gets
-- RLS forced with a policy for the tenant's own role only, and that role gets
-- usage and DML, nothing else. Idempotent, so template migrations re-run it.
create or replace function public.secure_tenant_schema(p_schema name, p_role name)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_rel record;
begin
  execute format('revoke all on schema %I from public', p_schema);
  execute format('grant usage on schema %I to %I', p_schema, p_role);
  -- The schema's relations come from pg_depend (indexed on the namespace):
  -- pg_class has no index on relnamespace alone, and with thousands of tenant
  -- schemas a scan of it would make every provisioning and upgrade slower as
  -- tenants are added. Incremental: tables already secured (RLS forced, the
  -- role's policy in place) are skipped, so an upgrade pays only for new ones.
  for v_rel in
    select c.oid::regclass as rel, c.relkind
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
      execute format('grant usage, select on sequence %s to %I', v_rel.rel, p_role);
      continue;
    end if;
    execute format('alter table %s enable row level security', v_rel.rel);
    execute format('alter table %s force row level security', v_rel.rel);
    execute format('drop policy if exists tenant_role_all on %s', v_rel.rel);
    execute format('create policy tenant_role_all on %s for all to %I using (true) with check (true)',
                   v_rel.rel, p_role);
    execute format('grant select, insert, update, delete on %s to %I', v_rel.rel, p_role);
  end loop;
end
$$;
revoke all on function public.secure_tenant_schema(name, name) from public;

-- The schema was built by provisioning for exactly this tenant (the comment is
-- written in the provisioning transaction), so hard delete never drops a schema
-- it does not own, such as public or a pre-existing single-tenant schema.
create or replace function public.tenant_owns_schema(p_tenant_id uuid, p_schema name)
returns boolean
language sql stable
set search_path = pg_catalog, public, pg_temp
as $$
  select exists (
    select 1 from pg_namespace n
    where n.nspname = p_schema
      and n.nspname like 'tenant\_%'
      and obj_description(n.oid, 'pg_namespace') = 'tenant:' || p_tenant_id::text
  )
$$;

-- Irreversible removal of a tenant: its schema, its role, its registry rows.
-- SQLSTATE SA404: unknown tenant; SA409: the schema is not tenant-owned.
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

-- Cancelled tenants are kept 90 days (data intact, status 'cancelled'), then
-- archived. Returns the number archived.
create or replace function public.archive_cancelled_tenants(p_older_than interval default interval '90 days')
returns integer
language sql
set search_path = pg_catalog, public, pg_temp
as $$
  with archived as (
    update public.tenants
    set status = 'archived', archived_at = now()
    where status = 'cancelled' and cancelled_at < now() - p_older_than
    returning 1
  )
  select count(*)::integer from archived
$$;
revoke all on function public.archive_cancelled_tenants(interval) from public;

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
do $$
declare
  v_table regclass;
begin
  foreach v_table in array array['public.plans', 'public.tenants', 'public.identities',
                                 'public.memberships', 'public.tenant_settings']::regclass[] loop
    execute format('drop trigger if exists _100_timestamps on %s', v_table);
    execute format('create trigger _100_timestamps before insert or update on %s
                    for each row execute function public.tg__timestamps()', v_table);
  end loop;
end
$$;
drop trigger if exists _900_notify on public.tenants;
create trigger _900_notify after insert or update or delete on public.tenants
  for each row execute function public.tg_tenants__notify();

------------------------------------------------------------------------------
-- grants (policies above decide the rows; these decide the columns)
------------------------------------------------------------------------------
grant usage on schema public to app, hasura;
revoke all on all tables in schema public from app, hasura;

grant select on public.plans to app, hasura;

grant select on public.tenants to app, hasura;
grant update (name, branding, custom_domain) on public.tenants to app;
grant update (name, branding) on public.tenants to hasura;

grant select (id, email, name, is_platform_admin, created_at, updated_at) on public.identities to app, hasura;
grant update (name) on public.identities to app, hasura;

grant select on public.memberships to app, hasura;
grant insert (tenant_id, identity_id, role) on public.memberships to app, hasura;
grant update (role) on public.memberships to app, hasura;
grant delete on public.memberships to app, hasura;

grant select on public.tenant_settings to app, hasura;
grant update (settings) on public.tenant_settings to app, hasura;

------------------------------------------------------------------------------
-- reference data (every deployment needs the plans; seeds are for demo data)
------------------------------------------------------------------------------
insert into public.plans as p (id, name, max_users, max_channels, max_storage_bytes, max_api_calls_month,
                               rate_limit_per_minute, rate_limit_per_hour, price_monthly_cents,
                               price_yearly_cents, trial_days, self_serve, features, sort_order)
values
  ('free', 'Free', 10, 5, 1073741824, 1000, 60, 1000, 0, 0, 0, true,
   '{"basic": true}', 0),
  ('pro', 'Pro', 100, 50, 107374182400, 50000, 120, 5000, 1500, 15000, 14, true,
   '{"basic": true, "analytics": true, "integrations": true}', 1),
  ('enterprise', 'Enterprise', -1, -1, -1, -1, 300, 15000, 9900, 99000, 14, true,
   '{"basic": true, "analytics": true, "integrations": true, "sso": true, "audit_logs": true, "custom_domain": true, "priority_support": true}', 2),
  ('custom', 'Custom', -1, -1, -1, -1, 600, 30000, null, null, 0, false,
   '{"basic": true, "analytics": true, "integrations": true, "sso": true, "audit_logs": true, "custom_domain": true, "priority_support": true, "dedicated_support": true, "sla": true}', 3)
-- Only plans that are missing: re-running this file (nself may) never resets an
-- operator's edits to an existing plan.
on conflict (id) do nothing;
