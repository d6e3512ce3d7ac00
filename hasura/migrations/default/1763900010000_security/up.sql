-- Security hardening: names a tenant's GraphQL namespace must not take,
-- login_lookup bound to the caller's tenant, capped tenant settings, and an
-- audit trail that hides internal tenant columns, records settings as a diff
-- and names writes made with the `hasura` credentials without a user session
-- as admin writes.

------------------------------------------------------------------------------
-- functions (names)
------------------------------------------------------------------------------
-- Root fields and type-name prefixes of the platform source (tables and
-- actions in hasura/metadata; a test keeps this list in step with it). A
-- tenant's source is namespaced by its slug ('-' as '_') and its types are
-- prefixed '<namespace>_', so a slug whose namespace is one of these would
-- clash with the platform's schema.
create or replace function public.platform_graphql_names() returns text[]
language sql immutable parallel safe
set search_path = pg_catalog
as $$
  select array[
    'delete_identities', 'delete_identities_by_pk', 'delete_memberships',
    'delete_memberships_by_pk', 'delete_plans', 'delete_plans_by_pk', 'delete_pooled_channels',
    'delete_pooled_channels_by_pk', 'delete_pooled_files', 'delete_pooled_files_by_pk',
    'delete_pooled_members', 'delete_pooled_members_by_pk', 'delete_pooled_messages',
    'delete_pooled_messages_by_pk', 'delete_tenant_audit_entries',
    'delete_tenant_audit_entries_by_pk', 'delete_tenant_audit_logs',
    'delete_tenant_audit_logs_by_pk', 'delete_tenant_invitations',
    'delete_tenant_invitations_by_pk', 'delete_tenant_settings', 'delete_tenant_settings_by_pk',
    'delete_tenant_usage', 'delete_tenant_usage_by_pk', 'delete_tenants', 'delete_tenants_by_pk',
    'identities', 'identities_aggregate', 'identities_by_pk', 'identities_stream',
    'insert_identities', 'insert_identities_one', 'insert_memberships', 'insert_memberships_one',
    'insert_plans', 'insert_plans_one', 'insert_pooled_channels', 'insert_pooled_channels_one',
    'insert_pooled_files', 'insert_pooled_files_one', 'insert_pooled_members',
    'insert_pooled_members_one', 'insert_pooled_messages', 'insert_pooled_messages_one',
    'insert_tenant_audit_entries', 'insert_tenant_audit_entries_one', 'insert_tenant_audit_logs',
    'insert_tenant_audit_logs_one', 'insert_tenant_invitations', 'insert_tenant_invitations_one',
    'insert_tenant_settings', 'insert_tenant_settings_one', 'insert_tenant_usage',
    'insert_tenant_usage_one', 'insert_tenants', 'insert_tenants_one', 'login', 'memberships',
    'memberships_aggregate', 'memberships_by_pk', 'memberships_stream', 'mutation', 'mutation_root',
    'plans', 'plans_aggregate', 'plans_by_pk', 'plans_stream', 'pooled', 'pooled_channels',
    'pooled_channels_aggregate', 'pooled_channels_by_pk', 'pooled_channels_stream', 'pooled_files',
    'pooled_files_aggregate', 'pooled_files_by_pk', 'pooled_files_stream', 'pooled_members',
    'pooled_members_aggregate', 'pooled_members_by_pk', 'pooled_members_stream', 'pooled_messages',
    'pooled_messages_aggregate', 'pooled_messages_by_pk', 'pooled_messages_stream', 'query',
    'query_root', 'subscription', 'subscription_root', 'tenant', 'tenant_audit',
    'tenant_audit_entries', 'tenant_audit_entries_aggregate', 'tenant_audit_entries_by_pk',
    'tenant_audit_entries_stream', 'tenant_audit_logs', 'tenant_audit_logs_aggregate',
    'tenant_audit_logs_by_pk', 'tenant_audit_logs_stream', 'tenant_invitations',
    'tenant_invitations_aggregate', 'tenant_invitations_by_pk', 'tenant_invitations_stream',
    'tenant_settings', 'tenant_settings_aggregate', 'tenant_settings_by_pk',
    'tenant_settings_stream', 'tenant_usage', 'tenant_usage_aggregate', 'tenant_usage_by_pk',
    'tenant_usage_stream', 'tenants', 'tenants_aggregate', 'tenants_by_pk', 'tenants_stream',
    'update_identities', 'update_identities_by_pk', 'update_identities_many', 'update_memberships',
    'update_memberships_by_pk', 'update_memberships_many', 'update_plans', 'update_plans_by_pk',
    'update_plans_many', 'update_pooled_channels', 'update_pooled_channels_by_pk',
    'update_pooled_channels_many', 'update_pooled_files', 'update_pooled_files_by_pk',
    'update_pooled_files_many', 'update_pooled_members', 'update_pooled_members_by_pk',
    'update_pooled_members_many', 'update_pooled_messages', 'update_pooled_messages_by_pk',
    'update_pooled_messages_many', 'update_tenant_audit_entries',
    'update_tenant_audit_entries_by_pk', 'update_tenant_audit_entries_many',
    'update_tenant_audit_logs', 'update_tenant_audit_logs_by_pk', 'update_tenant_audit_logs_many',
    'update_tenant_invitations', 'update_tenant_invitations_by_pk',
    'update_tenant_invitations_many', 'update_tenant_settings', 'update_tenant_settings_by_pk',
    'update_tenant_settings_many', 'update_tenant_usage', 'update_tenant_usage_by_pk',
    'update_tenant_usage_many', 'update_tenants', 'update_tenants_by_pk', 'update_tenants_many'
  ]
$$;

create or replace function public.slug_is_reserved(p_slug text) returns boolean
language sql immutable parallel safe
set search_path = pg_catalog, public
as $$
  select p_slug = any (array[
    'www', 'api', 'admin', 'app', 'auth', 'mail', 'static', 'status', 'hasura', 'graphql',
    'console', 'billing', 'dashboard', 'docs', 'help', 'support', 'blog', 'cdn', 'assets',
    'smtp', 'ftp', 'root', 'system', 'internal', 'localhost', 'public', 'tenant', 'tenants'
  ]) or replace(p_slug, '-', '_') = any (public.platform_graphql_names())
$$;

------------------------------------------------------------------------------
-- functions (settings caps)
------------------------------------------------------------------------------
-- Tenant settings are free-form JSON written by tenant admins (REST and
-- GraphQL): at most 32 KB as text, 5 levels of nesting and 500 keys in all.
create or replace function public.settings_within_caps(p_settings jsonb) returns boolean
language sql immutable parallel safe
set search_path = pg_catalog
as $$
  with recursive walk(v, depth) as (
    select p_settings, 1
    union all
    select c.value, w.depth + 1
    from walk w
    cross join lateral (
      select e.value from jsonb_each(case when jsonb_typeof(w.v) = 'object' then w.v end) e
      union all
      select a.value from jsonb_array_elements(case when jsonb_typeof(w.v) = 'array' then w.v end) a
    ) c
    where w.depth <= 5
  )
  select octet_length(p_settings::text) <= 32768
     and coalesce((select max(depth) from walk where jsonb_typeof(v) in ('object', 'array')), 0) <= 5
     and (select coalesce(sum((select count(*) from jsonb_object_keys(v))), 0)
          from walk where jsonb_typeof(v) = 'object') <= 500
$$;

------------------------------------------------------------------------------
-- tables (constraints)
------------------------------------------------------------------------------
alter table public.tenant_settings drop constraint if exists tenant_settings_caps;
-- not valid: rows written before the cap stay; every new write is checked.
alter table public.tenant_settings add constraint tenant_settings_caps check (public.settings_within_caps(settings)) not valid;
-- Validated where every existing row fits (a fresh database, most deployments);
-- where one does not, it stays NOT VALID: new writes are checked, old rows kept.
do $$
begin
  alter table public.tenant_settings validate constraint tenant_settings_caps;
exception when check_violation then
  raise notice 'tenant_settings_caps left NOT VALID: some tenant''s settings exceed the caps';
end
$$;

------------------------------------------------------------------------------
-- functions (login)
------------------------------------------------------------------------------
-- Login: the app role cannot read password hashes; this function returns the
-- hash of one email with the membership role, only for the tenant of the
-- caller's transaction (app.tenant_id), and platform administrators only to a
-- caller with no tenant (the platform host).
create or replace function public.login_lookup(p_tenant_id uuid, p_email text)
returns table (identity_id uuid, password_hash text, role text, is_platform_admin boolean)
language sql stable security definer
set search_path = pg_catalog, public, pg_temp
as $$
  select i.id, i.password_hash, m.role, i.is_platform_admin
  from public.identities i
  left join public.memberships m on m.identity_id = i.id and m.tenant_id = p_tenant_id
  where i.email = lower(p_email)
    and ((p_tenant_id is not null and p_tenant_id = public.current_tenant_id() and m.role is not null)
         or (p_tenant_id is null and public.current_tenant_id() is null and i.is_platform_admin))
$$;
revoke all on function public.login_lookup(uuid, text) from public;
grant execute on function public.login_lookup(uuid, text) to app;

------------------------------------------------------------------------------
-- functions (audit helpers)
------------------------------------------------------------------------------
-- Columns of a table that the trail never shows (their changes stay visible as
-- "[redacted]"): where a tenant lives and its Stripe ids are internal, and
-- Hasura's permissions hide them from owners and admins, who read the trail.
create or replace function public.audit_internal_columns(p_table regclass) returns text[]
language sql stable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
  select case p_table
    when 'public.tenants'::regclass then array[
      'db_role', 'schema_name', 'database_name', 'database_url_env', 'stripe_customer_id', 'stripe_subscription_id']
    else '{}'::text[]
  end
$$;

-- audit_redact with a table's internal columns added to p_extra.
create or replace function public.audit_redact_for(p_table regclass, p_values jsonb, p_extra text[] default '{}') returns jsonb
language sql stable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
  select public.audit_redact(p_values, p_extra || public.audit_internal_columns(p_table))
$$;

-- The part of p_side that differs from p_other: for two objects, the keys of
-- p_side whose value is not the same in p_other (so old = audit_diff(old, new)
-- holds removed and changed keys, new = audit_diff(new, old) added and changed
-- ones); anything else is kept whole.
create or replace function public.audit_diff(p_side jsonb, p_other jsonb) returns jsonb
language sql immutable parallel safe
set search_path = pg_catalog
as $$
  select case
    when jsonb_typeof(p_side) = 'object' and jsonb_typeof(p_other) = 'object' then
      coalesce((select jsonb_object_agg(e.key, e.value) from jsonb_each(p_side) e
                where e.value is distinct from p_other -> e.key), '{}'::jsonb)
    else p_side
  end
$$;

-- Who wrote, as the trail records it. A write by the `hasura` role (its
-- credentials) without a user session, or with Hasura's admin role (console,
-- admin secret), is an admin write: actor role 'admin', never anonymous, and
-- app.* settings (which any session can set) are not believed for it.
create or replace function public.audit_actor(
  out actor_kind text, out actor_id uuid, out actor_role text, out ip text, out user_agent text
)
language plpgsql stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_session jsonb := public.hasura_session();
  v_invoker text := case when current_setting('role') <> 'none' then current_setting('role') else session_user end;
  v_uuid_re constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
begin
  if v_session is not null then
    actor_id := case when v_session ->> 'x-hasura-user-id' ~ v_uuid_re then (v_session ->> 'x-hasura-user-id')::uuid end;
    actor_role := v_session ->> 'x-hasura-role';
    actor_kind := case when actor_id is null then 'hasura' else 'user' end;
  elsif v_invoker = 'hasura' then
    actor_kind := 'hasura';
    actor_role := 'admin';
  else
    actor_id := public.current_user_id();
    actor_kind := coalesce(nullif(current_setting('app.actor', true), ''), case when actor_id is null then 'system' else 'user' end);
    ip := nullif(current_setting('app.ip', true), '');
    user_agent := nullif(current_setting('app.user_agent', true), '');
  end if;
end
$$;
revoke all on function public.audit_actor() from public;

-- Appends one entry to a tenant's chain, the actor as audit_actor() says.
-- Internal: called by tg__audit only.
create or replace function public.audit_append(
  p_tenant_id uuid, p_action text, p_entity_type text, p_entity_id text, p_old jsonb, p_new jsonb
) returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_actor record := public.audit_actor();
  v_entry public.tenant_audit_logs;
  v_head public.tenant_audit_heads;
begin
  v_entry.actor_kind := v_actor.actor_kind;
  v_entry.actor_id := v_actor.actor_id;
  v_entry.actor_role := v_actor.actor_role;
  v_entry.ip := v_actor.ip;
  v_entry.user_agent := v_actor.user_agent;

  insert into public.tenant_audit_heads as h (tenant_id, seq, hash) values (p_tenant_id, 0, '')
  on conflict (tenant_id) do nothing;
  select * into strict v_head from public.tenant_audit_heads where tenant_id = p_tenant_id for update;

  v_entry.tenant_id := p_tenant_id;
  v_entry.seq := v_head.seq + 1;
  v_entry.action := p_action;
  v_entry.entity_type := p_entity_type;
  v_entry.entity_id := p_entity_id;
  v_entry.old_values := p_old;
  v_entry.new_values := p_new;
  v_entry.created_at := clock_timestamp();
  v_entry.prev_hash := nullif(v_head.hash, '');
  v_entry.hash := public.audit_row_hash(v_entry);

  insert into public.tenant_audit_logs select v_entry.*;
  update public.tenant_audit_heads set seq = v_entry.seq, hash = v_entry.hash where tenant_id = p_tenant_id;
end
$$;
revoke all on function public.audit_append(uuid, text, text, text, jsonb, jsonb) from public;

-- Generic audit trigger (AFTER INSERT/UPDATE/DELETE, FOR EACH ROW). Its
-- configuration is TG_ARGV, one 'key=value' per argument:
--   entity=<type>          entity_type, and the prefix of actions ('<type>.<verb>')
--   tenant=<column>        the column holding the tenant id (pooled/registry tables)
--   tenant_id=<uuid>       or the tenant id itself (a table in a tenant's own schema)
--   key=<column>           entity_id
--   ignore=<c1,c2>         columns whose changes are not audited (updated_at, ...)
--   redact=<c1,c2>         columns redacted besides the secret-looking ones and
--                          the table's internal ones (audit_internal_columns)
--   diff=<c1,c2>           jsonb columns whose updates are recorded as a diff
--                          (audit_diff: changed, added and removed keys only)
--   insert=<verb>          action verb of an insert (default created)
--   delete=<verb>          action verb of a delete (default deleted)
--   group.<action>=<p,...> an UPDATE touching a lead column of the group writes one
--                          entry named <action> ('<entity>.<action>' unless it has
--                          a dot) with the group's changed columns; columns are
--                          patterns ('*' = any suffix), a '+' marks a companion
--                          that joins the entry but does not trigger it. Groups
--                          claim columns in order; the group named 'status'
--                          derives its verb from the transition (suspended,
--                          cancelled, archived, reactivated, status_changed).
-- Changed columns no group claims form one '<entity>.updated' entry, so a column
-- added later (billing, ...) is audited without touching the trigger.
create or replace function public.tg__audit() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_arg text;
  v_key text;
  v_value text;
  v_entity text;
  v_tenant_column text;
  v_tenant_id uuid;
  v_key_column text;
  v_ignore text[] := '{}';
  v_redact text[] := '{}';
  v_diff text[] := '{}';
  v_column text;
  v_old_value jsonb;
  v_insert_verb text := 'created';
  v_delete_verb text := 'deleted';
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb;
  v_entity_id text;
  v_changed text[];
  v_claimed text[] := '{}';
  v_patterns text[];
  v_leads text[];
  v_cols text[];
  v_action text;
  v_status_old text;
  v_status_new text;
begin
  foreach v_arg in array tg_argv loop
    v_key := split_part(v_arg, '=', 1);
    v_value := substr(v_arg, length(v_key) + 2);
    case
      when v_key = 'entity' then v_entity := v_value;
      when v_key = 'tenant' then v_tenant_column := v_value;
      when v_key = 'tenant_id' then v_tenant_id := v_value::uuid;
      when v_key = 'key' then v_key_column := v_value;
      when v_key = 'ignore' then v_ignore := string_to_array(v_value, ',');
      when v_key = 'redact' then v_redact := string_to_array(v_value, ',');
      when v_key = 'diff' then v_diff := string_to_array(v_value, ',');
      when v_key = 'insert' then v_insert_verb := v_value;
      when v_key = 'delete' then v_delete_verb := v_value;
      when v_key like 'group.%' then null; -- read below, in order
      else raise exception 'tg__audit on %: unknown argument %', tg_relid::regclass, v_arg;
    end case;
  end loop;
  if v_entity is null or (v_tenant_column is null and v_tenant_id is null) then
    raise exception 'tg__audit on % needs entity= and tenant= (or tenant_id=)', tg_relid::regclass;
  end if;

  v_old := v_old - v_ignore;
  v_new := v_new - v_ignore;
  v_row := coalesce(v_new, v_old);
  v_tenant_id := coalesce(v_tenant_id, (v_row ->> v_tenant_column)::uuid);
  v_entity_id := v_row ->> v_key_column;

  if tg_op = 'INSERT' then
    perform public.audit_append(v_tenant_id, v_entity || '.' || v_insert_verb, v_entity, v_entity_id,
                                null, public.audit_redact_for(tg_relid, v_new, v_redact));
    return null;
  elsif tg_op = 'DELETE' then
    perform public.audit_append(v_tenant_id, v_entity || '.' || v_delete_verb, v_entity, v_entity_id,
                                public.audit_redact_for(tg_relid, v_old, v_redact), null);
    return null;
  end if;

  select coalesce(array_agg(n.key order by n.key), '{}') into v_changed
  from jsonb_each(v_new) n
  where n.value is distinct from v_old -> n.key;
  if cardinality(v_changed) = 0 then
    return null;
  end if;
  -- Large JSON documents (settings) are recorded by what changed, not whole.
  foreach v_column in array v_diff loop
    continue when not (v_column = any (v_changed));
    v_old_value := v_old -> v_column;
    v_old := jsonb_set(v_old, array[v_column], public.audit_diff(v_old_value, v_new -> v_column));
    v_new := jsonb_set(v_new, array[v_column], public.audit_diff(v_new -> v_column, v_old_value));
  end loop;

  foreach v_arg in array tg_argv loop
    continue when v_arg not like 'group.%';
    v_key := split_part(v_arg, '=', 1);
    v_action := substr(v_key, length('group.') + 1);
    -- '*' becomes LIKE's '%' (a literal '_' escaped first); '+' marks companions.
    select array_agg(replace(replace(ltrim(p, '+'), '_', '\_'), '*', '%')),
           array_agg(replace(replace(p, '_', '\_'), '*', '%')) filter (where p not like '+%')
      into v_patterns, v_leads
    from unnest(string_to_array(substr(v_arg, length(v_key) + 2), ',')) p;
    continue when not exists (
      select 1 from unnest(v_changed) c where c <> all (v_claimed) and c like any (v_leads));
    select array_agg(c order by c) into v_cols
    from unnest(v_changed) c where c <> all (v_claimed) and c like any (v_patterns);
    v_claimed := v_claimed || v_cols;

    if v_action = 'status' then
      v_status_old := v_old ->> split_part(substr(v_arg, length(v_key) + 2), ',', 1);
      v_status_new := v_new ->> split_part(substr(v_arg, length(v_key) + 2), ',', 1);
      v_action := case
        when v_status_new in ('suspended', 'cancelled', 'archived') then v_status_new
        when v_status_old in ('suspended', 'cancelled', 'archived') then 'reactivated'
        else 'status_changed'
      end;
    end if;
    perform public.audit_append(
      v_tenant_id,
      case when strpos(v_action, '.') > 0 then v_action else v_entity || '.' || v_action end,
      v_entity, v_entity_id,
      public.audit_redact_for(tg_relid, (select jsonb_object_agg(c, v_old -> c) from unnest(v_cols) c), v_redact),
      public.audit_redact_for(tg_relid, (select jsonb_object_agg(c, v_new -> c) from unnest(v_cols) c), v_redact));
  end loop;

  select array_agg(c order by c) into v_cols from unnest(v_changed) c where c <> all (v_claimed);
  if v_cols is not null then
    perform public.audit_append(
      v_tenant_id, v_entity || '.updated', v_entity, v_entity_id,
      public.audit_redact_for(tg_relid, (select jsonb_object_agg(c, v_old -> c) from unnest(v_cols) c), v_redact),
      public.audit_redact_for(tg_relid, (select jsonb_object_agg(c, v_new -> c) from unnest(v_cols) c), v_redact));
  end if;
  return null;
end
$$;
revoke all on function public.tg__audit() from public;

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
drop trigger if exists _900_audit on public.tenant_settings;
create trigger _900_audit after insert or update or delete on public.tenant_settings
  for each row execute function public.tg__audit(
    'entity=settings', 'tenant=tenant_id', 'key=tenant_id', 'ignore=updated_at', 'diff=settings',
    'group.features.updated=features', 'group.settings.updated=settings');
