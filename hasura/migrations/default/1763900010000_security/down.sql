-- Undoes 1763900010000_security in reverse: the definitions of the earlier
-- migrations come back.
drop trigger if exists _900_audit on public.tenant_settings;
create trigger _900_audit after insert or update or delete on public.tenant_settings
  for each row execute function public.tg__audit(
    'entity=settings', 'tenant=tenant_id', 'key=tenant_id', 'ignore=updated_at',
    'group.features.updated=features', 'group.settings.updated=settings');

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
                                null, public.audit_redact(v_new, v_redact));
    return null;
  elsif tg_op = 'DELETE' then
    perform public.audit_append(v_tenant_id, v_entity || '.' || v_delete_verb, v_entity, v_entity_id,
                                public.audit_redact(v_old, v_redact), null);
    return null;
  end if;

  select coalesce(array_agg(n.key order by n.key), '{}') into v_changed
  from jsonb_each(v_new) n
  where n.value is distinct from v_old -> n.key;
  if cardinality(v_changed) = 0 then
    return null;
  end if;

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
      public.audit_redact((select jsonb_object_agg(c, v_old -> c) from unnest(v_cols) c), v_redact),
      public.audit_redact((select jsonb_object_agg(c, v_new -> c) from unnest(v_cols) c), v_redact));
  end loop;

  select array_agg(c order by c) into v_cols from unnest(v_changed) c where c <> all (v_claimed);
  if v_cols is not null then
    perform public.audit_append(
      v_tenant_id, v_entity || '.updated', v_entity, v_entity_id,
      public.audit_redact((select jsonb_object_agg(c, v_old -> c) from unnest(v_cols) c), v_redact),
      public.audit_redact((select jsonb_object_agg(c, v_new -> c) from unnest(v_cols) c), v_redact));
  end if;
  return null;
end
$$;
revoke all on function public.tg__audit() from public;

create or replace function public.audit_append(
  p_tenant_id uuid, p_action text, p_entity_type text, p_entity_id text, p_old jsonb, p_new jsonb
) returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_session jsonb := public.hasura_session();
  v_uuid_re constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
  v_entry public.tenant_audit_logs;
  v_head public.tenant_audit_heads;
begin
  if v_session is not null then
    v_entry.actor_id := case when v_session ->> 'x-hasura-user-id' ~ v_uuid_re
                             then (v_session ->> 'x-hasura-user-id')::uuid end;
    v_entry.actor_role := v_session ->> 'x-hasura-role';
    v_entry.actor_kind := case when v_entry.actor_id is null then 'hasura' else 'user' end;
  else
    v_entry.actor_id := public.current_user_id();
    v_entry.actor_kind := coalesce(nullif(current_setting('app.actor', true), ''),
                                   case when v_entry.actor_id is null then 'system' else 'user' end);
    v_entry.ip := nullif(current_setting('app.ip', true), '');
    v_entry.user_agent := nullif(current_setting('app.user_agent', true), '');
  end if;

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

drop function if exists public.audit_actor();
drop function if exists public.audit_diff(jsonb, jsonb);
drop function if exists public.audit_redact_for(regclass, jsonb, text[]);
drop function if exists public.audit_internal_columns(regclass);

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

alter table public.tenant_settings drop constraint if exists tenant_settings_caps;
drop function if exists public.settings_within_caps(jsonb);

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
drop function if exists public.platform_graphql_names();
