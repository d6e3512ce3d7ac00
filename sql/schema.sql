-- Schema of a freshly migrated database, generated from the catalog by
-- `npm run db:dump` (actions-server/src/db/dump.ts). Do not edit: change a
-- migration in hasura/migrations/default and regenerate. Owners are left out;
-- tenant schemas are built from sql/tenant/.
-- migration 1763900000000_tenant_core
-- migration 1763900001000_limits_usage
-- migration 1763900002000_billing
-- migration 1763900003000_audit_invitations
-- migration 1763900005000_hasura
-- migration 1763900006000_pooled
-- migration 1763900007000_moves
-- migration 1763900010000_security
-- migration 1763900012000_plans_over_time
-- migration 1763900013000_people_access
-- migration 1763900014000_custom_domains
-- migration 1763900015000_portability
-- migration 1763900016000_events
-- migration 1763900017000_hasura_source_sync
-- migration 1763900018000_deployment
-- migration 1763900030000_platform_audit_order
-- migration 1763900040000_access_notify
-- migration 1763900050000_rls_policy_inline
-- migration 1763900052000_template_batches
-- migration 1763900090000_plans_notify
-- migration 1763900100000_stripe_events_applied_by_jobs
-- migration 1763900110000_quota_shards
-- migration 1763900120000_message_metering_cost
-- migration 1763900130000_provisioning_fast
-- migration 1763900140000_schema_setup_checks

set check_function_bodies = false;

------------------------------------------------------------------------------
-- schemas
------------------------------------------------------------------------------
create schema "pooled";

------------------------------------------------------------------------------
-- types
------------------------------------------------------------------------------
create domain public.usage_period as text constraint usage_period_format CHECK ((VALUE ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'::text));
create domain public.usage_shard as smallint constraint usage_shard_range CHECK (((VALUE >= 0) AND (VALUE <= 63)));

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.apply_audit_retention(p_now timestamp with time zone DEFAULT now())
 RETURNS bigint
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_chain record;
  v_cutoff timestamptz;
  v_upto bigint;
  v_hash text;
  v_removed bigint := 0;
  v_count bigint;
begin
  for v_chain in
    select h.tenant_id, h.seq as head_seq, coalesce(p.audit_retention_days, r.retention_days) as days,
           coalesce(r.checkpoint_seq, 0) as checkpoint_seq, t.id is null as deleted
      from public.tenant_audit_heads h
      left join public.tenants t on t.id = h.tenant_id
      left join public.plans p on p.id = t.plan
      left join public.tenant_audit_retention r on r.tenant_id = h.tenant_id
  loop
    continue when v_chain.days is null;
    v_cutoff := p_now - make_interval(days => v_chain.days);
    select coalesce(min(seq) - 1, v_chain.head_seq) into v_upto
      from public.tenant_audit_logs where tenant_id = v_chain.tenant_id and created_at >= v_cutoff;
    continue when v_upto <= v_chain.checkpoint_seq;
    select hash into v_hash from public.tenant_audit_logs where tenant_id = v_chain.tenant_id and seq = v_upto;
    continue when v_hash is null;
    delete from public.tenant_audit_personal where tenant_id = v_chain.tenant_id and seq <= v_upto;
    delete from public.tenant_audit_logs where tenant_id = v_chain.tenant_id and seq <= v_upto;
    get diagnostics v_count = row_count;
    v_removed := v_removed + v_count;
    if v_chain.deleted and v_upto = v_chain.head_seq then
      delete from public.tenant_audit_heads where tenant_id = v_chain.tenant_id;
      delete from public.tenant_audit_retention where tenant_id = v_chain.tenant_id;
    else
      insert into public.tenant_audit_retention (tenant_id, checkpoint_seq, checkpoint_hash)
      values (v_chain.tenant_id, v_upto, v_hash)
      on conflict (tenant_id) do update
        set checkpoint_seq = excluded.checkpoint_seq, checkpoint_hash = excluded.checkpoint_hash, updated_at = now();
    end if;
  end loop;
  return v_removed;
end
$function$;

CREATE OR REPLACE FUNCTION public.archive_cancelled_tenants(p_older_than interval DEFAULT '90 days'::interval)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  with archived as (
    update public.tenants
    set status = 'archived', archived_at = now()
    where status = 'cancelled' and cancelled_at < now() - p_older_than
    returning 1
  )
  select count(*)::integer from archived
$function$;

CREATE OR REPLACE FUNCTION public.attach_move_guard(p_schema name, p_tenant_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_table record;
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  for v_table in
    select c.relname
    from pg_class c
    where c.relnamespace = p_schema::regnamespace and c.relkind in ('r', 'p')
      and not exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = '_050_move_guard')
    order by c.relname
  loop
    execute format(
      'create trigger _050_move_guard before insert or update or delete on %I.%I for each row execute function public.tg__move_guard(%L)',
      p_schema, v_table.relname, p_tenant_id);
  end loop;
end
$function$;

CREATE OR REPLACE FUNCTION public.attach_tenant_triggers(p_schema name, p_tenant_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.audit_actor(OUT actor_kind text, OUT actor_id uuid, OUT actor_role text, OUT ip text, OUT user_agent text)
 RETURNS record
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.audit_append(p_tenant_id uuid, p_action text, p_entity_type text, p_entity_id text, p_old jsonb, p_new jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_actor record := public.audit_actor();
  v_entry public.tenant_audit_logs;
  v_head public.tenant_audit_heads;
  v_personal jsonb := '{}'::jsonb;
  v_part jsonb;
  v_emails text[];
  v_salt bytea;
begin
  v_entry.actor_kind := v_actor.actor_kind;
  v_entry.actor_id := v_actor.actor_id;
  v_entry.actor_role := v_actor.actor_role;

  if v_actor.ip is not null then v_personal := v_personal || jsonb_build_object('ip', v_actor.ip); end if;
  if v_actor.user_agent is not null then v_personal := v_personal || jsonb_build_object('user_agent', v_actor.user_agent); end if;
  if jsonb_typeof(p_old) = 'object' then
    select jsonb_object_agg(e.key, e.value) into v_part
      from jsonb_each(p_old) e
     where public.audit_personal_key(e.key) and e.value <> 'null'::jsonb;
    if v_part is not null then
      v_personal := v_personal || jsonb_build_object('old', v_part);
      p_old := p_old || (select jsonb_object_agg(k, '"[personal]"'::jsonb) from jsonb_object_keys(v_part) k);
    end if;
  end if;
  if jsonb_typeof(p_new) = 'object' then
    select jsonb_object_agg(e.key, e.value) into v_part
      from jsonb_each(p_new) e
     where public.audit_personal_key(e.key) and e.value <> 'null'::jsonb;
    if v_part is not null then
      v_personal := v_personal || jsonb_build_object('new', v_part);
      p_new := p_new || (select jsonb_object_agg(k, '"[personal]"'::jsonb) from jsonb_object_keys(v_part) k);
    end if;
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
  v_entry.hash_version := 2;
  if v_personal <> '{}'::jsonb then
    v_salt := decode(replace(gen_random_uuid()::text, '-', ''), 'hex');
    v_entry.personal_digest := public.audit_personal_digest(v_salt, v_personal);
    select coalesce(array_agg(distinct lower(v.value #>> '{}')), '{}') into v_emails
      from jsonb_each(coalesce(v_personal -> 'old', '{}') || coalesce(v_personal -> 'new', '{}')) v
     where v.key like '%email%' and jsonb_typeof(v.value) = 'string';
    insert into public.tenant_audit_personal (tenant_id, seq, subject_ids, emails, data, salt)
    values (p_tenant_id, v_entry.seq,
            case when v_entry.actor_id is null then '{}'::uuid[] else array[v_entry.actor_id] end,
            v_emails, v_personal, v_salt);
  end if;
  v_entry.hash := public.audit_row_hash(v_entry);

  insert into public.tenant_audit_logs select v_entry.*;
  update public.tenant_audit_heads set seq = v_entry.seq, hash = v_entry.hash where tenant_id = p_tenant_id;
end
$function$;

CREATE OR REPLACE FUNCTION public.audit_diff(p_side jsonb, p_other jsonb)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog'
AS $function$
  select case
    when jsonb_typeof(p_side) = 'object' and jsonb_typeof(p_other) = 'object' then
      coalesce((select jsonb_object_agg(e.key, e.value) from jsonb_each(p_side) e
                where e.value is distinct from p_other -> e.key), '{}'::jsonb)
    else p_side
  end
$function$;

CREATE OR REPLACE FUNCTION public.audit_internal_columns(p_table regclass)
 RETURNS text[]
 LANGUAGE sql
 STABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select case p_table
    when 'public.tenants'::regclass then array[
      'db_role', 'schema_name', 'database_name', 'database_url_env', 'stripe_customer_id', 'stripe_subscription_id']
    else '{}'::text[]
  end
$function$;

CREATE OR REPLACE FUNCTION public.audit_personal_digest(p_salt bytea, p_data jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN encode(sha256((p_salt || convert_to((p_data)::text, 'UTF8'::name))), 'hex'::text);

CREATE OR REPLACE FUNCTION public.audit_personal_key(p_key text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN ((p_key ~~ '%email%'::text) OR (p_key = ANY (ARRAY['display_name'::text, 'full_name'::text, 'phone'::text, 'person_name'::text])));

CREATE OR REPLACE FUNCTION public.audit_redact(p_values jsonb, p_extra text[] DEFAULT '{}'::text[])
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
BEGIN ATOMIC
 SELECT COALESCE(jsonb_object_agg(e.key,
         CASE
             WHEN ((e.value <> 'null'::jsonb) AND ((e.key = ANY (audit_redact.p_extra)) OR (e.key ~~ ANY (ARRAY['%password%'::text, '%secret%'::text, '%token%'::text, '%api\_key%'::text, '%private\_key%'::text])))) THEN '"[redacted]"'::jsonb
             ELSE e.value
         END), '{}'::jsonb) AS "coalesce"
    FROM jsonb_each(audit_redact.p_values) e(key, value);
END;

CREATE OR REPLACE FUNCTION public.audit_redact_for(p_table regclass, p_values jsonb, p_extra text[] DEFAULT '{}'::text[])
 RETURNS jsonb
 LANGUAGE sql
 STABLE PARALLEL SAFE
RETURN public.audit_redact(p_values, (p_extra || public.audit_internal_columns(p_table)));

CREATE OR REPLACE FUNCTION public.check_tenant_limits(p_tenant_id uuid)
 RETURNS TABLE(resource text, usage bigint, max_value bigint, remaining bigint, overage bigint, at_limit boolean, exceeded boolean)
 LANGUAGE sql
 STABLE
AS $function$
  select * from public.tenant_limit_report(p_tenant_id, to_char(now() at time zone 'UTC', 'YYYY-MM'))
$function$;

CREATE OR REPLACE FUNCTION public.create_invited_identity(p_invitation_id uuid, p_identity_id uuid, p_name text, p_password_hash text)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_email text;
begin
  select i.email into v_email
  from public.tenant_invitations i
  where i.tenant_id = public.current_tenant_id() and i.id = p_invitation_id
    and i.accepted_at is null and i.revoked_at is null and i.expires_at > now();
  if not found then
    raise exception 'no open invitation % in this tenant', p_invitation_id using errcode = 'SA404';
  end if;
  insert into public.identities (id, email, name, password_hash)
  values (p_identity_id, v_email, p_name, p_password_hash);
  return p_identity_id;
end
$function$;

CREATE OR REPLACE FUNCTION public.current_tenant_id()
 RETURNS uuid
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$ select nullif(current_setting('app.tenant_id', true), '')::uuid $function$;

CREATE OR REPLACE FUNCTION public.current_user_id()
 RETURNS uuid
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$ select nullif(current_setting('app.user_id', true), '')::uuid $function$;

CREATE OR REPLACE FUNCTION public.drain_tenant_writers(p_tenant_id uuid)
 RETURNS void
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select pg_catalog.pg_advisory_xact_lock(1297045061, pg_catalog.hashtext(p_tenant_id::text))
$function$;

CREATE OR REPLACE FUNCTION public.enable_tenant_rls(p_table regclass, p_tenant_column name DEFAULT 'tenant_id'::name)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  -- Exactly public.current_tenant_id()'s body.
  v_tenant constant text := $q$nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid$q$;
begin
  execute format('alter table %s enable row level security, force row level security', p_table);

  execute format('drop policy if exists app_tenant on %s', p_table);
  execute format(
    'create policy app_tenant on %s as permissive for all to app
       using (%2$I = %3$s) with check (%2$I = %3$s)',
    p_table, p_tenant_column, v_tenant);

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
$function$;

CREATE OR REPLACE FUNCTION public.end_trial(p_tenant_id uuid, p_now timestamp with time zone, p_action text DEFAULT 'downgrade'::text)
 RETURNS text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_row public.tenants;
begin
  if p_action not in ('downgrade', 'suspend') then
    raise exception 'unknown trial end action %', p_action using errcode = '22023';
  end if;
  select * into v_row from public.tenants where id = p_tenant_id for update;
  if not found or v_row.status <> 'trial' or v_row.trial_ends_at is null or v_row.trial_ends_at > p_now
     or coalesce(v_row.subscription_status, '') in ('trialing', 'active', 'past_due') then
    return null;
  end if;
  if p_action = 'suspend' then
    update public.tenants
       set status = 'suspended', suspended_at = now(), billing_suspended = true
     where id = p_tenant_id;
    return 'suspended';
  end if;
  update public.tenants set status = 'active', plan = 'free' where id = p_tenant_id;
  return 'downgraded';
end
$function$;

CREATE OR REPLACE FUNCTION public.expire_invitations()
 RETURNS integer
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  with gone as (
    delete from public.tenant_invitations where expires_at < now() and accepted_at is null returning 1
  )
  select count(*)::integer from gone
$function$;

CREATE OR REPLACE FUNCTION public.hard_delete_tenant(p_tenant_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.hasura_role()
 RETURNS text
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$ select public.hasura_session() ->> 'x-hasura-role' $function$;

CREATE OR REPLACE FUNCTION public.hasura_session()
 RETURNS jsonb
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$ select nullif(current_setting('hasura.user', true), '')::jsonb $function$;

CREATE OR REPLACE FUNCTION public.hasura_tenant_id()
 RETURNS uuid
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$ select nullif(public.hasura_session() ->> 'x-hasura-tenant-id', '')::uuid $function$;

CREATE OR REPLACE FUNCTION public.limit_overrides_valid(p_overrides jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog'
AS $function$
begin
  if p_overrides = '{}'::jsonb then
    return true;
  end if;
  return jsonb_typeof(p_overrides) = 'object' and not exists (
    select 1
    from jsonb_each(p_overrides) as e (key, value)
    where e.key not in ('max_users', 'max_channels', 'max_storage_bytes', 'max_api_calls_month',
                        'rate_limit_per_minute', 'rate_limit_per_hour')
       or jsonb_typeof(e.value) <> 'number'
       or e.value::numeric <> trunc(e.value::numeric)
       or (e.key like 'rate\_limit\_%' and e.value::numeric not between 1 and 2147483647)
       or (e.key like 'max\_%' and e.value::numeric not between -1 and 9223372036854775807));
end
$function$;

CREATE OR REPLACE FUNCTION public.login_lookup(p_tenant_id uuid, p_email text)
 RETURNS TABLE(identity_id uuid, password_hash text, role text, is_platform_admin boolean)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select i.id, i.password_hash, m.role, i.is_platform_admin
  from public.identities i
  left join public.memberships m on m.identity_id = i.id and m.tenant_id = p_tenant_id
  where i.email = lower(p_email)
    and ((p_tenant_id is not null and p_tenant_id = public.current_tenant_id() and m.role is not null)
         or (p_tenant_id is null and public.current_tenant_id() is null and i.is_platform_admin))
$function$;

CREATE OR REPLACE FUNCTION public.plan_change_conflicts(p_tenant_id uuid, p_plan text)
 RETURNS TABLE(resource text, usage bigint, max_value bigint)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select r.resource, r.usage, r.max_value
  from public.plans p
  left join public.tenant_settings s on s.tenant_id = p_tenant_id
  left join public.tenant_usage u on u.tenant_id = p_tenant_id
    and u.period = to_char(now() at time zone 'UTC', 'YYYY-MM')
  cross join lateral (values
    (1, 'users', coalesce(u.users_total, 0), coalesce((s.limit_overrides ->> 'max_users')::bigint, p.max_users)),
    (2, 'channels', coalesce(u.channels_total, 0), coalesce((s.limit_overrides ->> 'max_channels')::bigint, p.max_channels)),
    (3, 'storage_bytes', coalesce(u.storage_bytes, 0), coalesce((s.limit_overrides ->> 'max_storage_bytes')::bigint, p.max_storage_bytes))
  ) as r (ord, resource, usage, max_value)
  where p.id = p_plan and r.max_value >= 0 and r.usage > r.max_value
  order by r.ord
$function$;

CREATE OR REPLACE FUNCTION public.plan_tenant_has_feature(p_tenant_id uuid, p_plan text, p_feature text)
 RETURNS boolean
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(
    (select case when jsonb_typeof(s.features -> p_feature) = 'boolean' then (s.features -> p_feature)::boolean end
       from public.tenant_settings s where s.tenant_id = p_tenant_id),
    (select case when jsonb_typeof(p.features -> p_feature) = 'boolean' then (p.features -> p_feature)::boolean end
       from public.plans p where p.id = p_plan),
    false)
$function$;

CREATE OR REPLACE FUNCTION public.platform_graphql_names()
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.prune_hasura_event_receipts(p_older_than interval DEFAULT '30 days'::interval)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  with pruned as (
    delete from public.hasura_event_receipts where received_at < now() - p_older_than returning 1
  )
  select count(*)::integer from pruned
$function$;

CREATE OR REPLACE FUNCTION public.purge_stripe_webhooks(p_older_than interval DEFAULT '30 days'::interval)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  with purged as (
    delete from public.stripe_webhooks
    where processed and created_at < now() - p_older_than
    returning 1
  )
  select count(*)::integer from purged
$function$;

CREATE OR REPLACE FUNCTION public.queue_platform_job(p_task text, p_payload jsonb, p_job_key text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if to_regprocedure('graphile_worker.add_job(text, json, text, timestamp with time zone, integer, text, integer, text[], text)') is null then
    raise warning 'job queue not installed: % not queued', p_task;
    return;
  end if;
  execute 'select graphile_worker.add_job($1, $2::json, job_key => $3)' using p_task, p_payload, p_job_key;
end
$function$;

CREATE OR REPLACE FUNCTION public.record_template_upgrade(p_version bigint, p_tenants uuid[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_from jsonb;
begin
  select jsonb_object_agg(t.id, t.template_version) into v_from
  from public.tenants t where t.id = any (p_tenants);
  update public.tenants set template_version = p_version where id = any (p_tenants);
  insert into public.platform_audit_logs (actor_kind, actor_id, action, entity_type, entity_id, old_values, new_values)
  select a.actor_kind, a.actor_id, 'template.upgraded', 'template', p_version::text,
         jsonb_build_object('template_version', v_from),
         jsonb_build_object('template_version', p_version, 'tenants', to_jsonb(p_tenants))
  from public.audit_actor() a;
end
$function$;

CREATE OR REPLACE FUNCTION public.recount_tenant_counters(p_schema name, p_tenant_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  perform public.tenant_counters_recount(p_schema, p_tenant_id);
end
$function$;

CREATE OR REPLACE FUNCTION public.require_feature(p_tenant_id uuid, p_plan text, p_feature text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_plans jsonb;
begin
  if public.plan_tenant_has_feature(p_tenant_id, p_plan, p_feature) then
    return;
  end if;
  select coalesce(jsonb_agg(p.id order by p.sort_order, p.id), '[]'::jsonb) into v_plans
  from public.plans p where (p.features -> p_feature) = 'true'::jsonb;
  raise exception 'The % feature is not in the % plan', p_feature, p_plan
    using errcode = 'SA402',
          detail = jsonb_build_object('feature', p_feature, 'plan', p_plan, 'plans', v_plans)::text,
          hint = 'Change to a plan that includes it, or ask a platform admin for an override.';
end
$function$;

CREATE OR REPLACE FUNCTION public.secure_tenant_schema(p_schema name, p_role name)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.settings_within_caps(p_settings jsonb)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog'
AS $function$
begin
  if p_settings = '{}'::jsonb then
    return true;
  end if;
  return (
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
            from walk where jsonb_typeof(v) = 'object') <= 500);
end
$function$;

CREATE OR REPLACE FUNCTION public.slug_is_reserved(p_slug text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public'
AS $function$
  select p_slug = any (array[
    'www', 'api', 'admin', 'app', 'auth', 'mail', 'static', 'status', 'hasura', 'graphql',
    'console', 'billing', 'dashboard', 'docs', 'help', 'support', 'blog', 'cdn', 'assets',
    'smtp', 'ftp', 'root', 'system', 'internal', 'localhost', 'public', 'tenant', 'tenants'
  ]) or replace(p_slug, '-', '_') = any (public.platform_graphql_names())
$function$;

CREATE OR REPLACE FUNCTION public.suspend_past_due_tenants(p_now timestamp with time zone DEFAULT now())
 RETURNS SETOF uuid
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  update public.tenants
  set status = 'suspended', suspended_at = now(), billing_suspended = true
  where past_due_since is not null
    and grace_ends_at <= p_now
    and status in ('trial', 'active')
  returning id
$function$;

CREATE OR REPLACE FUNCTION public.tenant_counters_add(p_tenant_id uuid, p_shard smallint, p_users bigint, p_channels bigint, p_storage bigint, p_files bigint)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tenant_counters_lock(p_tenant_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform 1 from public.tenant_counter_shards s where s.tenant_id = p_tenant_id order by s.shard for update;
  perform public.tenant_counters_open_period(p_tenant_id, to_char(now() at time zone 'UTC', 'YYYY-MM'));
end
$function$;

CREATE OR REPLACE FUNCTION public.tenant_counters_open_period(p_tenant_id uuid, p_period text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tenant_counters_recount(p_schema name, p_tenant_id uuid)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tenant_counters_set(p_tenant_id uuid, p_users bigint, p_channels bigint, p_storage bigint, p_files bigint)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform public.tenant_counters_lock(p_tenant_id);
  delete from public.tenant_counter_shards where tenant_id = p_tenant_id;
  update public.tenant_counter_base
     set users_total = p_users, channels_total = p_channels, storage_bytes = p_storage, files_count = p_files,
         updated_at = now()
   where tenant_id = p_tenant_id;
end
$function$;

CREATE OR REPLACE FUNCTION public.tenant_effective_limits(p_tenant_id uuid)
 RETURNS TABLE(plan text, max_users bigint, max_channels bigint, max_storage_bytes bigint, max_api_calls_month bigint, rate_limit_per_minute integer, rate_limit_per_hour integer)
 LANGUAGE sql
 STABLE
AS $function$
  select p.id,
         coalesce((s.limit_overrides ->> 'max_users')::bigint, p.max_users),
         coalesce((s.limit_overrides ->> 'max_channels')::bigint, p.max_channels),
         coalesce((s.limit_overrides ->> 'max_storage_bytes')::bigint, p.max_storage_bytes),
         coalesce((s.limit_overrides ->> 'max_api_calls_month')::bigint, p.max_api_calls_month),
         coalesce((s.limit_overrides ->> 'rate_limit_per_minute')::integer, p.rate_limit_per_minute),
         coalesce((s.limit_overrides ->> 'rate_limit_per_hour')::integer, p.rate_limit_per_hour)
  from public.tenants t
  join public.plans p on p.id = t.plan
  left join public.tenant_settings s on s.tenant_id = t.id
  where t.id = p_tenant_id
$function$;

CREATE OR REPLACE FUNCTION public.tenant_features(p_tenant_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(jsonb_object_agg(f.key, f.value), '{}'::jsonb)
  from public.tenants t
  join public.plans p on p.id = t.plan
  left join public.tenant_settings s on s.tenant_id = t.id
  cross join lateral jsonb_each(p.features || coalesce(s.features, '{}'::jsonb)) as f(key, value)
  where t.id = p_tenant_id and jsonb_typeof(f.value) = 'boolean'
$function$;

CREATE OR REPLACE FUNCTION public.tenant_has_feature(p_tenant_id uuid, p_feature text)
 RETURNS boolean
 LANGUAGE sql
 STABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce((public.tenant_features(p_tenant_id) -> p_feature)::boolean, false)
$function$;

CREATE OR REPLACE FUNCTION public.tenant_limit_report(p_tenant_id uuid, p_period text)
 RETURNS TABLE(resource text, usage bigint, max_value bigint, remaining bigint, overage bigint, at_limit boolean, exceeded boolean)
 LANGUAGE sql
 STABLE
AS $function$
  select r.resource,
         r.usage,
         r.max_value,
         case when r.max_value >= 0 then greatest(r.max_value - r.usage, 0) end,
         case when r.max_value >= 0 then greatest(r.usage - r.max_value, 0) else 0 end,
         r.max_value >= 0 and r.usage >= r.max_value,
         r.max_value >= 0 and r.usage > r.max_value
  from public.tenant_effective_limits(p_tenant_id) l
  left join public.tenant_usage u on u.tenant_id = p_tenant_id and u.period = p_period
  cross join lateral (values
    (1, 'users', coalesce(u.users_total, 0), l.max_users),
    (2, 'channels', coalesce(u.channels_total, 0), l.max_channels),
    (3, 'storage_bytes', coalesce(u.storage_bytes, 0), l.max_storage_bytes),
    (4, 'api_calls_month', coalesce(u.api_calls_total, 0), l.max_api_calls_month)
  ) as r (ord, resource, usage, max_value)
  order by r.ord
$function$;

CREATE OR REPLACE FUNCTION public.tenant_limit_trigger_sql(p_schema name, p_table name, p_tenant_id uuid)
 RETURNS text[]
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO 'pg_catalog'
AS $function$
  select array[
    format('create trigger _500_limits after insert%s on %I.%I for each row execute function public.tg__limits(%s)',
           case when p_table = 'files' then ' or update of size_bytes' else '' end, p_schema, p_table,
           case when p_tenant_id is null then '' else quote_literal(p_tenant_id) end),
    format('create trigger _800_usage after delete on %I.%I for each row execute function public.tg__usage(%s)',
           p_schema, p_table, case when p_tenant_id is null then '' else quote_literal(p_tenant_id) end)
  ]
$function$;

CREATE OR REPLACE FUNCTION public.tenant_meter_cap(p_tenant_id uuid, p_meter_id text)
 RETURNS TABLE(cap numeric, enforcement text, capped boolean)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select c.cap, c.enforcement, true from public.tenant_meter_caps c
  where c.tenant_id = p_tenant_id and c.meter_id = p_meter_id
  union all
  select pm.cap, pm.enforcement, true from public.tenants t
  join public.plan_meters pm on pm.plan_id = t.plan and pm.meter_id = p_meter_id
  where t.id = p_tenant_id
    and not exists (select 1 from public.tenant_meter_caps c where c.tenant_id = p_tenant_id and c.meter_id = p_meter_id)
  limit 1
$function$;

CREATE OR REPLACE FUNCTION public.tenant_owns_schema(p_tenant_id uuid, p_schema name)
 RETURNS boolean
 LANGUAGE sql
 STABLE
BEGIN ATOMIC
 SELECT (EXISTS ( SELECT 1
            FROM (pg_namespace n
              JOIN pg_description d ON (((d.objoid = n.oid) AND (d.classoid = ('pg_namespace'::regclass)::oid) AND (d.objsubid = 0))))
           WHERE ((n.nspname = tenant_owns_schema.p_schema) AND (n.nspname ~~ 'tenant\_%'::text) AND (d.description = ('tenant:'::text || (tenant_owns_schema.p_tenant_id)::text))))) AS "exists";
END;

CREATE OR REPLACE FUNCTION public.tenant_quota_take(p_tenant_id uuid, p_shard smallint, p_limit text, p_amount bigint, p_period text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg__append_only()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if current_user is distinct from (select pg_get_userbyid(c.relowner) from pg_class c where c.oid = tg_relid) then
    raise exception '% is append-only: % refused', tg_relid::regclass, lower(tg_op)
      using errcode = 'SA403',
            hint = 'Audit entries are never changed; only the migration owner may repair the table.';
  end if;
  return case tg_op when 'DELETE' then old else new end;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg__audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg__hasura_source_follow_status()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_closed constant text[] := array['cancelled', 'archived'];
begin
  if new.isolation <> 'pooled'
     and (old.status = any (v_closed)) is distinct from (new.status = any (v_closed))
     and to_regprocedure('graphile_worker.add_job(text,json,text,timestamptz,integer,text,integer,text[],text)') is not null then
    execute 'select graphile_worker.add_job($1, json_build_object(''tenantId'', $2), max_attempts => 25, job_key => $3)'
      using 'hasura.sync-source', new.id, 'hasura.sync-source:' || new.id::text;
  end if;
  return null;
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
$function$;

CREATE OR REPLACE FUNCTION public.tg__limits_epoch()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg__move_guard()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_tenant uuid;
  v_key text;
  v_cached text;
  v_isolation text;
  v_mode text;
begin
  if tg_nargs > 0 and tg_argv[0] <> '' then
    v_tenant := tg_argv[0]::uuid;
  elsif tg_op = 'DELETE' then
    v_tenant := old.tenant_id;
  else
    v_tenant := new.tenant_id;
  end if;
  v_key := 'saas_move.g' || replace(v_tenant::text, '-', '');
  v_cached := current_setting(v_key, true);
  if v_cached is not null and split_part(v_cached, ':', 1) = tg_table_schema then
    v_mode := split_part(v_cached, ':', 2);
  else
    perform pg_advisory_xact_lock_shared(1297045061, hashtext(v_tenant::text));
    select t.isolation, g.mode into v_isolation, v_mode
    from public.tenants t
    left join public.tenant_write_guards g on g.tenant_id = t.id and g.schema_name = tg_table_schema
    where t.id = v_tenant;

    if tg_nargs = 0 and v_isolation <> 'pooled' then
      raise exception using
        errcode = 'SA503',
        message = 'this tenant has moved to another placement: retry the request',
        detail = json_build_object('reason', 'tenant_moved', 'retry_after_seconds', 1)::text,
        hint = 'Retry; the tenant is resolved afresh.';
    elsif v_mode = 'frozen' then
      raise exception using
        errcode = 'SA503',
        message = 'this tenant is being moved to another placement: writes are paused for a moment, retry shortly',
        detail = json_build_object('reason', 'tenant_moving', 'retry_after_seconds', 1)::text,
        hint = 'Retry after a second; reads keep working.';
    end if;
    v_mode := coalesce(v_mode, 'none');
    perform set_config(v_key, tg_table_schema || ':' || v_mode, true);
  end if;

  if v_mode = 'capture' then
    insert into public.tenant_move_changes (tenant_id, table_name, row_id)
    values (v_tenant, tg_table_name, case when tg_op = 'DELETE' then old.id else new.id end);
    if tg_op = 'UPDATE' and old.id is distinct from new.id then
      insert into public.tenant_move_changes (tenant_id, table_name, row_id) values (v_tenant, tg_table_name, old.id);
    end if;
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg__timestamps()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  new.updated_at := case when tg_op = 'INSERT' then coalesce(new.updated_at, now()) else now() end;
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
$function$;

CREATE OR REPLACE FUNCTION public.tg__usage_flush()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_tenant uuid;
  v_key text;
  v_count bigint;
  v_reset text;
begin
  if tg_nargs > 0 then
    v_tenant := tg_argv[0];
  else
    v_tenant := new.tenant_id;
  end if;
  v_key := 'saas_usage.messages_' || replace(v_tenant::text, '-', '');
  v_count := nullif(current_setting(v_key, true), '');
  -- Nothing left when an earlier flush of this transaction took it.
  if v_count > 0 then
    v_reset := set_config(v_key, '0', true);
    update public.tenant_usage_counters
       set messages_total = messages_total + v_count
     where tenant_id = v_tenant and period = to_char(now() at time zone 'UTC', 'YYYY-MM') and shard = pg_backend_pid() % 64;
    if not found then
      insert into public.tenant_usage_counters as c (tenant_id, period, shard, messages_total)
      values (v_tenant, to_char(now() at time zone 'UTC', 'YYYY-MM'), pg_backend_pid() % 64, v_count)
      on conflict (tenant_id, period, shard) do update set messages_total = c.messages_total + excluded.messages_total;
    end if;
  end if;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_access__notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if tg_op = 'TRUNCATE' then
    perform pg_notify('access_changed', '{"all":true}');
  elsif tg_table_name = 'tenant_api_keys' then
    perform pg_notify('access_changed', json_build_object('keys', json_build_array(old.prefix, new.prefix))::text);
  elsif tg_table_name = 'identities' then
    perform pg_notify('access_changed', json_build_object('identities', json_build_array(old.id, new.id))::text);
  else
    perform pg_notify('access_changed', json_build_object('identities', json_build_array(old.identity_id, new.identity_id))::text);
  end if;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_memberships__rules()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_row public.memberships := coalesce(new, old);
  v_session jsonb := public.hasura_session();
  v_caller text := current_user;
  v_actor uuid;
  v_session_role text;
  v_role text;
  v_rank int;
  v_email text;
  v_others int;
  v_session_tenant uuid;
begin
  -- The caller is the role the statement runs as; inside this security definer
  -- function current_user is the owner, so read the invoker from the session.
  v_caller := current_setting('role', true);
  if v_caller is null or v_caller = 'none' then v_caller := session_user; end if;
  if v_caller = 'app' then
    v_session_tenant := public.current_tenant_id();
  else
    v_session_tenant := public.hasura_tenant_id();
  end if;

  -- A row of another tenant than the session's is left to row-level security,
  -- which refuses it (only rows of the session's tenant are judged here).
  if v_caller in ('app', 'hasura') and not (v_caller = 'hasura' and v_session ->> 'x-hasura-role' = 'admin')
     and v_row.tenant_id is not distinct from v_session_tenant then
    if v_caller = 'hasura' then
      v_actor := case when v_session ->> 'x-hasura-user-id' ~ '^[0-9a-fA-F-]{36}$' then (v_session ->> 'x-hasura-user-id')::uuid end;
      v_session_role := case v_session ->> 'x-hasura-role'
                          when 'owner' then 'owner' when 'tenant_admin' then 'admin' when 'member' then 'member' end;
    else
      v_actor := public.current_user_id();
      v_session_role := 'owner';
    end if;
    select m.role into v_role from public.memberships m
    where m.tenant_id = v_row.tenant_id and m.identity_id = v_actor;
    -- The lower of the current role and the session's.
    v_rank := least(case v_role when 'owner' then 3 when 'admin' then 2 when 'member' then 1 else 0 end,
                    case v_session_role when 'owner' then 3 when 'admin' then 2 when 'member' then 1 else 0 end);

    if tg_op = 'INSERT' then
      select i.email into v_email from public.identities i where i.id = new.identity_id;
      if not (v_rank = 3 or (v_rank = 2 and new.role = 'member')
              or (v_actor = new.identity_id and exists (
                    select 1 from public.tenant_invitations inv
                    where inv.tenant_id = new.tenant_id and inv.email = v_email and inv.role = new.role
                      and inv.accepted_at is null and inv.revoked_at is null and inv.expires_at > now()))) then
        raise exception 'not allowed to add a % to this tenant', new.role using errcode = 'SA403';
      end if;
    elsif tg_op = 'UPDATE' then
      if new.tenant_id <> old.tenant_id or new.identity_id <> old.identity_id then
        raise exception 'a membership cannot move' using errcode = 'SA403';
      end if;
      if new.role is distinct from old.role and v_rank < 3 then
        raise exception 'only an owner changes roles (owners manage owners and admins, admins manage members)'
          using errcode = 'SA403';
      end if;
    else
      if not (v_actor = old.identity_id or v_rank = 3 or (v_rank = 2 and old.role = 'member')) then
        raise exception 'not allowed to remove a % (owners manage owners and admins, admins manage members)', old.role
          using errcode = 'SA403';
      end if;
    end if;
  end if;

  -- The last owner stays. The other owners' rows are locked (FOR UPDATE
  -- re-reads a row a concurrent transaction changed), so two owners demoting
  -- each other at once cannot leave the tenant without one. A tenant or an
  -- identity being deleted takes its memberships with it.
  if tg_op <> 'INSERT' and old.role = 'owner' and (tg_op = 'DELETE' or new.role <> 'owner')
     and exists (select 1 from public.tenants t where t.id = old.tenant_id)
     and exists (select 1 from public.identities i where i.id = old.identity_id) then
    select count(*) into v_others from (
      select 1 from public.memberships m
      where m.tenant_id = old.tenant_id and m.role = 'owner' and m.identity_id <> old.identity_id
      for update
    ) o;
    if v_others = 0 then
      raise exception 'the last owner cannot be removed or demoted; transfer ownership first' using errcode = 'SA409';
    end if;
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_memberships__webhooks()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if tg_op = 'INSERT' then
    perform public.webhook_emit(new.tenant_id, 'member.added', jsonb_build_object('user_id', new.identity_id, 'role', new.role));
  elsif tg_op = 'DELETE' then
    perform public.webhook_emit(old.tenant_id, 'member.removed', jsonb_build_object('user_id', old.identity_id, 'role', old.role));
  elsif new.role is distinct from old.role then
    perform public.webhook_emit(new.tenant_id, 'member.role_changed',
      jsonb_build_object('user_id', new.identity_id, 'role', new.role, 'previous_role', old.role));
  end if;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_plans__audit()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_old jsonb := to_jsonb(old) - 'updated_at' - 'created_at';
  v_new jsonb := to_jsonb(new) - 'updated_at' - 'created_at';
  v_changed_old jsonb;
  v_changed_new jsonb;
  v_user text := nullif(current_setting('app.user_id', true), '');
begin
  select jsonb_object_agg(o.key, o.value), jsonb_object_agg(o.key, v_new -> o.key)
    into v_changed_old, v_changed_new
  from jsonb_each(v_old) o where o.value is distinct from v_new -> o.key;
  if v_changed_new is null then
    return new;
  end if;
  insert into public.platform_audit_logs (actor_kind, actor_id, action, entity_type, entity_id, old_values, new_values)
  values (coalesce(nullif(current_setting('app.actor', true), ''), 'system'), v_user::uuid,
          'plan.updated', 'plan', new.id, v_changed_old, v_changed_new);
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_plans__notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform pg_notify('tenant_changed', '{"plans":true}');
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenant_invitations__webhooks()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if new.accepted_at is not null and old.accepted_at is null then
    perform public.webhook_emit(new.tenant_id, 'invitation.accepted', jsonb_build_object(
      'invitation_id', new.id, 'email', new.email, 'role', new.role, 'user_id', new.accepted_by));
  end if;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenant_settings__notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform pg_notify('tenant_changed', json_build_object(
    'id', new.tenant_id, 'slugs', json_build_array(), 'domains', json_build_array())::text);
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenant_settings__webhooks()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if new.settings is distinct from old.settings then
    perform public.webhook_emit(new.tenant_id, 'tenant.updated', jsonb_build_object('settings', new.settings));
  end if;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenants__audit_retention()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  insert into public.tenant_audit_retention (tenant_id, retention_days, tenant_deleted_at)
  values (old.id, (select p.audit_retention_days from public.plans p where p.id = old.plan), now())
  on conflict (tenant_id) do update
    set retention_days = excluded.retention_days, tenant_deleted_at = excluded.tenant_deleted_at, updated_at = now();
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenants__billing_suspension()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  -- However the tenant leaves 'suspended' (a payment, a platform admin), the
  -- billing mark goes with it, so a later admin suspension is never lifted by Stripe.
  if new.status <> 'suspended' then
    new.billing_suspended := false;
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenants__feature_guard()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if new.custom_domain is not null
     and (tg_op = 'INSERT' or new.custom_domain is distinct from old.custom_domain) then
    perform public.require_feature(new.id, new.plan, 'custom_domain');
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenants__notify()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenants__stripe_cleanup()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if tg_op = 'DELETE' then
    if old.stripe_customer_id is not null then
      perform public.queue_platform_job('billing.delete-customer',
        jsonb_build_object('tenantId', old.id, 'customerId', old.stripe_customer_id),
        'billing.delete-customer:' || old.id);
    end if;
    return old;
  end if;
  if new.status = 'cancelled' and old.status <> 'cancelled' and new.stripe_subscription_id is not null
     and coalesce(new.subscription_status, '') not in ('canceled', 'incomplete_expired') then
    perform public.queue_platform_job('billing.close-subscription',
      jsonb_build_object('tenantId', new.id, 'subscriptionId', new.stripe_subscription_id),
      'billing.close-subscription:' || new.id);
  end if;
  return new;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_tenants__webhooks()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  if (new.name, new.branding, new.custom_domain, new.custom_domain_verified_at, new.status)
     is distinct from (old.name, old.branding, old.custom_domain, old.custom_domain_verified_at, old.status) then
    perform public.webhook_emit(new.id, 'tenant.updated', jsonb_build_object(
      'name', new.name, 'slug', new.slug, 'status', new.status, 'branding', new.branding,
      'custom_domain', new.custom_domain));
  end if;
  if (new.plan, new.subscription_status, new.billing_interval, new.stripe_subscription_id, new.cancel_at_period_end, new.current_period_end)
     is distinct from (old.plan, old.subscription_status, old.billing_interval, old.stripe_subscription_id, old.cancel_at_period_end, old.current_period_end) then
    perform public.webhook_emit(new.id, 'subscription.changed', jsonb_build_object(
      'plan', new.plan, 'previous_plan', old.plan, 'status', new.subscription_status,
      'previous_status', old.subscription_status, 'interval', new.billing_interval,
      'cancel_at_period_end', new.cancel_at_period_end, 'current_period_end', new.current_period_end));
  end if;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_usage_events__audit_correction()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
begin
  perform public.audit_append(new.tenant_id, 'usage.corrected', 'usage_event', new.id::text, null,
    jsonb_build_object('meter_id', new.meter_id, 'value', new.value, 'reason', new.reason,
                       'idempotency_key', new.idempotency_key, 'period', new.period));
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.tg_usage_meter_totals__thresholds()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_cap record;
  v_old numeric := case when tg_op = 'UPDATE' then old.usage else 0 end;
  v_pct integer;
begin
  if new.usage <= v_old then
    return null;
  end if;
  select * into v_cap from public.tenant_meter_cap(new.tenant_id, new.meter_id);
  if v_cap.cap is null or v_cap.cap <= 0 then
    return null;
  end if;
  foreach v_pct in array array[80, 100] loop
    if v_old < v_cap.cap * v_pct / 100 and new.usage >= v_cap.cap * v_pct / 100 then
      perform public.webhook_emit(new.tenant_id, 'usage.threshold_reached', jsonb_build_object(
        'meter_id', new.meter_id, 'period', new.period, 'threshold_percent', v_pct,
        'usage', new.usage, 'cap', v_cap.cap, 'enforcement', v_cap.enforcement));
    end if;
  end loop;
  return null;
end
$function$;

CREATE OR REPLACE FUNCTION public.trials_due(p_now timestamp with time zone)
 RETURNS SETOF uuid
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select id from public.tenants
  where status = 'trial' and trial_ends_at <= p_now
    and coalesce(subscription_status, '') not in ('trialing', 'active', 'past_due')
  order by trial_ends_at, id
$function$;

CREATE OR REPLACE FUNCTION public.usage_tally(p_setting text)
 RETURNS boolean
 LANGUAGE plpgsql
AS $function$
begin
  return pg_catalog.set_config(
           p_setting,
           (coalesce(nullif(pg_catalog.current_setting(p_setting, true), ''), '0')::bigint + 1)::text,
           true) = '1';
end
$function$;

CREATE OR REPLACE FUNCTION public.verify_audit_chain(p_tenant_id uuid)
 RETURNS TABLE(ok boolean, broken_seq bigint, checked bigint, reason text)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_row public.tenant_audit_logs;
  v_checkpoint public.tenant_audit_retention;
  v_personal public.tenant_audit_personal;
  v_expected bigint := 1;
  v_first bigint;
  v_prev text;
  v_head public.tenant_audit_heads;
begin
  select * into v_checkpoint from public.tenant_audit_retention where tenant_id = p_tenant_id;
  if coalesce(v_checkpoint.checkpoint_seq, 0) > 0 then
    v_expected := v_checkpoint.checkpoint_seq + 1;
    v_prev := v_checkpoint.checkpoint_hash;
  end if;
  v_first := v_expected;
  for v_row in select * from public.tenant_audit_logs where tenant_id = p_tenant_id and seq >= v_first order by seq loop
    if v_row.seq <> v_expected then
      return query select false, v_expected, v_expected - v_first, format('entry %s is missing', v_expected);
      return;
    end if;
    if v_row.prev_hash is distinct from v_prev then
      return query select false, v_row.seq, v_expected - v_first, 'prev_hash does not match the previous entry';
      return;
    end if;
    if v_row.hash is distinct from public.audit_row_hash(v_row) then
      return query select false, v_row.seq, v_expected - v_first, 'hash does not match the entry''s content';
      return;
    end if;
    if v_row.hash_version = 2 then
      select * into v_personal from public.tenant_audit_personal where tenant_id = p_tenant_id and seq = v_row.seq;
      if found and (v_row.personal_digest is null
                    or public.audit_personal_digest(v_personal.salt, v_personal.data) <> v_row.personal_digest) then
        return query select false, v_row.seq, v_expected - v_first, 'personal data does not match the entry''s digest';
        return;
      end if;
    end if;
    v_prev := v_row.hash;
    v_expected := v_expected + 1;
  end loop;

  select * into v_head from public.tenant_audit_heads where tenant_id = p_tenant_id;
  if coalesce(v_head.seq, 0) > v_expected - 1 then
    return query select false, v_expected, v_expected - v_first, format('entry %s is missing', v_expected);
    return;
  end if;
  if coalesce(v_head.seq, 0) < v_expected - 1 or nullif(v_head.hash, '') is distinct from v_prev then
    return query select false, v_expected - 1, v_expected - v_first, 'the chain head does not match the last entry';
    return;
  end if;
  return query select true, null::bigint, v_expected - v_first, null::text;
end
$function$;

CREATE OR REPLACE FUNCTION public.webhook_emit(p_tenant_id uuid, p_type text, p_data jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
declare
  v_event_id uuid := gen_random_uuid();
begin
  if p_tenant_id is null or not exists (
    select 1 from public.webhook_endpoints e
    where e.tenant_id = p_tenant_id and e.enabled and p_type = any (e.event_types)
  ) then
    return;
  end if;
  insert into public.webhook_events (tenant_id, id, type, payload)
  values (p_tenant_id, v_event_id, p_type, jsonb_build_object(
    'type', p_type,
    'timestamp', to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'data', coalesce(p_data, '{}'::jsonb) || jsonb_build_object('tenant_id', p_tenant_id)));
  insert into public.webhook_deliveries (tenant_id, endpoint_id, event_id, event_type)
  select e.tenant_id, e.id, v_event_id, p_type
  from public.webhook_endpoints e
  where e.tenant_id = p_tenant_id and e.enabled and p_type = any (e.event_types);
  -- Wake the delivery job (graphile-worker, when installed); the periodic sweep covers the rest.
  if to_regprocedure('graphile_worker.add_job(text, json, text, timestamptz, integer, text, integer, text[], text)') is not null then
    perform graphile_worker.add_job('webhooks.deliver', '{}'::json, job_key => 'webhooks.deliver:due', job_key_mode => 'preserve_run_at');
  end if;
end
$function$;


------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
create table pooled.channels (
  tenant_id uuid default COALESCE(public.current_tenant_id(), public.hasura_tenant_id()) not null,
  id uuid default gen_random_uuid() not null,
  name text not null,
  is_private boolean default false not null,
  created_by uuid,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint channels_pkey PRIMARY KEY (tenant_id, id),
  constraint channels_name_key UNIQUE (tenant_id, name),
  constraint channels_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 100)))
);

create table pooled.files (
  tenant_id uuid default COALESCE(public.current_tenant_id(), public.hasura_tenant_id()) not null,
  id uuid default gen_random_uuid() not null,
  channel_id uuid,
  member_id uuid,
  name text not null,
  content_type text,
  size_bytes bigint not null,
  created_at timestamp with time zone default now() not null,
  constraint files_pkey PRIMARY KEY (tenant_id, id),
  constraint files_size_bytes_check CHECK ((size_bytes >= 0))
);

create table pooled.members (
  tenant_id uuid default COALESCE(public.current_tenant_id(), public.hasura_tenant_id()) not null,
  id uuid default gen_random_uuid() not null,
  identity_id uuid,
  display_name text not null,
  email text,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint members_pkey PRIMARY KEY (tenant_id, id),
  constraint members_identity_id_key UNIQUE (tenant_id, identity_id),
  constraint members_display_name_check CHECK (((length(btrim(display_name)) >= 1) AND (length(btrim(display_name)) <= 200))),
  constraint members_email_check CHECK (((email IS NULL) OR (email = lower(email))))
);

create table pooled.messages (
  tenant_id uuid default COALESCE(public.current_tenant_id(), public.hasura_tenant_id()) not null,
  id uuid default gen_random_uuid() not null,
  channel_id uuid not null,
  member_id uuid,
  body text not null,
  created_at timestamp with time zone default now() not null,
  constraint messages_pkey PRIMARY KEY (tenant_id, id)
);

create table public.analytics_events (
  tenant_id uuid default public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  event text not null,
  distinct_id text,
  properties jsonb default '{}'::jsonb not null,
  occurred_at timestamp with time zone default now() not null,
  created_at timestamp with time zone default now() not null,
  constraint analytics_events_pkey PRIMARY KEY (tenant_id, id),
  constraint analytics_events_distinct_id_check CHECK (((length(distinct_id) >= 1) AND (length(distinct_id) <= 200))),
  constraint analytics_events_event_check CHECK (((length(btrim(event)) >= 1) AND (length(btrim(event)) <= 200))),
  constraint analytics_events_properties_check CHECK ((jsonb_typeof(properties) = 'object'::text))
);

create table public.auth_refresh_tokens (
  id uuid default gen_random_uuid() not null,
  session_id uuid not null,
  token_hash bytea not null,
  created_at timestamp with time zone default now() not null,
  used_at timestamp with time zone,
  constraint auth_refresh_tokens_pkey PRIMARY KEY (id),
  constraint auth_refresh_tokens_token_hash_key UNIQUE (token_hash)
);

create table public.auth_sessions (
  id uuid default gen_random_uuid() not null,
  identity_id uuid not null,
  scope_tenant_id uuid,
  role text not null,
  created_at timestamp with time zone default now() not null,
  expires_at timestamp with time zone not null,
  revoked_at timestamp with time zone,
  revoke_reason text,
  user_agent text,
  ip text,
  constraint auth_sessions_pkey PRIMARY KEY (id),
  constraint auth_sessions_revoke_reason_check CHECK ((revoke_reason = ANY (ARRAY['logout'::text, 'logout_all'::text, 'refresh_reuse'::text, 'password_changed'::text, 'password_reset'::text, 'membership_ended'::text]))),
  constraint auth_sessions_role_check CHECK ((role = ANY (ARRAY['owner'::text, 'admin'::text, 'member'::text, 'platform_admin'::text])))
);

create table public.connector_events (
  tenant_id uuid default public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  connector text not null,
  event text not null,
  payload jsonb default '{}'::jsonb not null,
  occurred_at timestamp with time zone default now() not null,
  created_at timestamp with time zone default now() not null,
  constraint connector_events_pkey PRIMARY KEY (tenant_id, id),
  constraint connector_events_connector_check CHECK (((length(btrim(connector)) >= 1) AND (length(btrim(connector)) <= 100))),
  constraint connector_events_event_check CHECK (((length(btrim(event)) >= 1) AND (length(btrim(event)) <= 200))),
  constraint connector_events_payload_check CHECK ((jsonb_typeof(payload) = 'object'::text))
);

create table public.custom_domain_verifications (
  tenant_id uuid not null,
  domain text not null,
  token text not null,
  state text default 'pending'::text not null,
  method text,
  attempts integer default 0 not null,
  next_check_at timestamp with time zone,
  expires_at timestamp with time zone not null,
  last_checked_at timestamp with time zone,
  last_result text,
  missing_since timestamp with time zone,
  verified_at timestamp with time zone,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint custom_domain_verifications_pkey PRIMARY KEY (tenant_id),
  constraint custom_domain_verifications_method CHECK (((method IS NULL) OR (method = ANY (ARRAY['dns'::text, 'manual'::text])))),
  constraint custom_domain_verifications_state CHECK ((state = ANY (ARRAY['pending'::text, 'verified'::text, 'expired'::text]))),
  constraint custom_domain_verifications_verified CHECK (((state = 'verified'::text) = ((verified_at IS NOT NULL) AND (method IS NOT NULL))))
);

create table public.deployment_settings (
  key text not null,
  value text not null,
  recorded_at timestamp with time zone default now() not null,
  constraint deployment_settings_pkey PRIMARY KEY (key)
);

create table public.hasura_event_receipts (
  event_id text not null,
  kind text not null,
  name text not null,
  received_at timestamp with time zone default now() not null,
  constraint hasura_event_receipts_pkey PRIMARY KEY (event_id),
  constraint hasura_event_receipts_event_id_check CHECK (((length(event_id) >= 1) AND (length(event_id) <= 200))),
  constraint hasura_event_receipts_kind_check CHECK ((kind = ANY (ARRAY['event'::text, 'cron'::text]))),
  constraint hasura_event_receipts_name_check CHECK (((length(name) >= 1) AND (length(name) <= 200)))
);

create table public.hasura_tenant_sources (
  tenant_id uuid not null,
  source_name text not null,
  created_at timestamp with time zone default now() not null,
  synced_version bigint,
  constraint hasura_tenant_sources_pkey PRIMARY KEY (tenant_id),
  constraint hasura_tenant_sources_source_name_key UNIQUE (source_name)
);

create table public.identities (
  id uuid default gen_random_uuid() not null,
  email text not null,
  name text,
  password_hash text,
  is_platform_admin boolean default false not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  email_verified_at timestamp with time zone,
  erased_at timestamp with time zone,
  constraint identities_pkey PRIMARY KEY (id),
  constraint identities_email_key UNIQUE (email),
  constraint identities_email_format CHECK (((email = lower(email)) AND (email ~ '^[^@\s]+@[^@\s]+$'::text)))
);

create table public.identity_tokens (
  id uuid default gen_random_uuid() not null,
  identity_id uuid not null,
  purpose text not null,
  token_hash bytea not null,
  context_tenant_id uuid,
  created_at timestamp with time zone default now() not null,
  expires_at timestamp with time zone not null,
  used_at timestamp with time zone,
  constraint identity_tokens_pkey PRIMARY KEY (id),
  constraint identity_tokens_token_hash_key UNIQUE (token_hash),
  constraint identity_tokens_purpose_check CHECK ((purpose = ANY (ARRAY['password_reset'::text, 'email_verification'::text])))
);

create table public.memberships (
  tenant_id uuid not null,
  identity_id uuid not null,
  role text not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint memberships_pkey PRIMARY KEY (tenant_id, identity_id),
  constraint memberships_role_check CHECK ((role = ANY (ARRAY['owner'::text, 'admin'::text, 'member'::text])))
);

create table public.meters (
  id text not null,
  name text not null,
  aggregation text default 'sum'::text not null,
  unit text default 'unit'::text not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint meters_pkey PRIMARY KEY (id),
  constraint meters_aggregation_check CHECK ((aggregation = ANY (ARRAY['sum'::text, 'count'::text, 'max'::text]))),
  constraint meters_id_check CHECK ((id ~ '^[a-z][a-z0-9_-]{1,62}$'::text)),
  constraint meters_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200))),
  constraint meters_unit_check CHECK (((length(btrim(unit)) >= 1) AND (length(btrim(unit)) <= 50)))
);

create table public.outbox (
  id uuid default gen_random_uuid() not null,
  template text not null,
  recipient text not null,
  subject text not null,
  text_body text not null,
  html_body text not null,
  context_tenant_id uuid,
  created_at timestamp with time zone default now() not null,
  constraint outbox_pkey PRIMARY KEY (id)
);

create table public.plan_meters (
  plan_id text not null,
  meter_id text not null,
  cap numeric,
  enforcement text default 'hard'::text not null,
  stripe_event_name text,
  updated_at timestamp with time zone default now() not null,
  constraint plan_meters_pkey PRIMARY KEY (plan_id, meter_id),
  constraint plan_meters_cap_check CHECK (((cap IS NULL) OR (cap >= (0)::numeric))),
  constraint plan_meters_enforcement_check CHECK ((enforcement = ANY (ARRAY['hard'::text, 'soft'::text]))),
  constraint plan_meters_stripe_event_name_check CHECK ((stripe_event_name ~ '^[A-Za-z0-9_.:-]{1,100}$'::text))
);

create table public.plans (
  id text not null,
  name text not null,
  max_users bigint not null,
  max_channels bigint not null,
  max_storage_bytes bigint not null,
  max_api_calls_month bigint not null,
  rate_limit_per_minute integer not null,
  rate_limit_per_hour integer not null,
  price_monthly_cents bigint,
  price_yearly_cents bigint,
  trial_days integer default 0 not null,
  self_serve boolean default true not null,
  features jsonb default '{}'::jsonb not null,
  sort_order integer default 0 not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  placement text,
  audit_retention_days integer default 365 not null,
  constraint plans_pkey PRIMARY KEY (id),
  constraint plans_audit_retention_days_positive CHECK ((audit_retention_days > 0)),
  constraint plans_id_check CHECK ((id ~ '^[a-z][a-z0-9_]{1,30}$'::text)),
  constraint plans_placement_check CHECK ((placement = ANY (ARRAY['schema'::text, 'pooled'::text, 'database'::text]))),
  constraint plans_rate_limit_per_hour_check CHECK ((rate_limit_per_hour > 0)),
  constraint plans_rate_limit_per_minute_check CHECK ((rate_limit_per_minute > 0)),
  constraint plans_trial_days_check CHECK ((trial_days >= 0))
);

create table public.platform_audit_logs (
  id bigint generated always as identity not null,
  actor_kind text not null,
  actor_id uuid,
  action text not null,
  entity_type text not null,
  entity_id text not null,
  old_values jsonb,
  new_values jsonb,
  created_at timestamp with time zone default clock_timestamp() not null,
  constraint platform_audit_logs_pkey PRIMARY KEY (id)
);

create table public.schema_migrations (
  version bigint not null,
  name text,
  applied_at timestamp with time zone default now(),
  constraint schema_migrations_pkey PRIMARY KEY (version)
);

create table public.stripe_meter_reports (
  tenant_id uuid not null,
  id uuid default gen_random_uuid() not null,
  meter_id text not null,
  event_name text not null,
  stripe_customer_id text not null,
  value numeric not null,
  events integer not null,
  identifier text not null,
  status text default 'pending'::text not null,
  created_at timestamp with time zone default now() not null,
  sent_at timestamp with time zone,
  constraint stripe_meter_reports_pkey PRIMARY KEY (tenant_id, id),
  constraint stripe_meter_reports_identifier_key UNIQUE (tenant_id, identifier),
  constraint stripe_meter_reports_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sent'::text]))),
  constraint stripe_meter_reports_value_check CHECK ((value >= (0)::numeric))
);

create table public.stripe_webhooks (
  id bigint generated always as identity not null,
  event_id text not null,
  type text not null,
  api_version text,
  livemode boolean default false not null,
  tenant_id uuid,
  payload jsonb not null,
  event_created_at timestamp with time zone,
  processed boolean default false not null,
  processed_at timestamp with time zone,
  error text,
  attempts integer default 0 not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  outcome text,
  outcome_reason text,
  constraint stripe_webhooks_pkey PRIMARY KEY (id),
  constraint stripe_webhooks_event_id_key UNIQUE (event_id),
  constraint stripe_webhooks_outcome CHECK (((outcome IS NULL) OR (processed AND (outcome = ANY (ARRAY['processed'::text, 'ignored'::text]))))),
  constraint stripe_webhooks_processed_at CHECK ((processed = (processed_at IS NOT NULL)))
);

create table public.tenant_api_calls (
  tenant_id uuid not null,
  period text not null,
  endpoint text not null,
  calls bigint default 0 not null,
  constraint tenant_api_calls_pkey PRIMARY KEY (tenant_id, period, endpoint),
  constraint tenant_api_calls_calls_positive CHECK ((calls >= 0)),
  constraint tenant_api_calls_endpoint_length CHECK (((length(endpoint) >= 1) AND (length(endpoint) <= 200))),
  constraint tenant_api_calls_period_format CHECK ((period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'::text))
);

create table public.tenant_api_keys (
  tenant_id uuid not null,
  id uuid default gen_random_uuid() not null,
  name text not null,
  prefix text not null,
  key_hash bytea not null,
  role text not null,
  created_by uuid,
  created_at timestamp with time zone default now() not null,
  expires_at timestamp with time zone,
  last_used_at timestamp with time zone,
  revoked_at timestamp with time zone,
  revoked_by uuid,
  constraint tenant_api_keys_pkey PRIMARY KEY (tenant_id, id),
  constraint tenant_api_keys_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 100))),
  constraint tenant_api_keys_prefix_check CHECK ((prefix ~ '^sk_[a-z0-9]{12}$'::text)),
  constraint tenant_api_keys_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'member'::text])))
);

create table public.tenant_audit_heads (
  tenant_id uuid not null,
  seq bigint not null,
  hash text not null,
  constraint tenant_audit_heads_pkey PRIMARY KEY (tenant_id)
);

create table public.tenant_audit_logs (
  tenant_id uuid not null,
  seq bigint not null,
  actor_kind text not null,
  actor_id uuid,
  actor_role text,
  action text not null,
  entity_type text not null,
  entity_id text,
  old_values jsonb,
  new_values jsonb,
  ip text,
  user_agent text,
  created_at timestamp with time zone default clock_timestamp() not null,
  prev_hash text,
  hash text not null,
  hash_version smallint default 1 not null,
  personal_digest text,
  constraint tenant_audit_logs_pkey PRIMARY KEY (tenant_id, seq),
  constraint tenant_audit_logs_action_check CHECK ((action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'::text)),
  constraint tenant_audit_logs_actor_kind_check CHECK ((actor_kind = ANY (ARRAY['user'::text, 'hasura'::text, 'stripe'::text, 'cron'::text, 'system'::text, 'cli'::text, 'api_key'::text]))),
  constraint tenant_audit_logs_hash_version_check CHECK ((hash_version = ANY (ARRAY[1, 2]))),
  constraint tenant_audit_logs_seq_check CHECK ((seq > 0))
);

create table public.tenant_audit_personal (
  tenant_id uuid not null,
  seq bigint not null,
  subject_ids uuid[] default '{}'::uuid[] not null,
  emails text[] default '{}'::text[] not null,
  data jsonb not null,
  salt bytea not null,
  constraint tenant_audit_personal_pkey PRIMARY KEY (tenant_id, seq),
  constraint tenant_audit_personal_data_check CHECK ((jsonb_typeof(data) = 'object'::text))
);

create table public.tenant_audit_retention (
  tenant_id uuid not null,
  checkpoint_seq bigint default 0 not null,
  checkpoint_hash text,
  retention_days integer,
  tenant_deleted_at timestamp with time zone,
  updated_at timestamp with time zone default now() not null,
  constraint tenant_audit_retention_pkey PRIMARY KEY (tenant_id),
  constraint tenant_audit_retention_retention_days_check CHECK ((retention_days > 0))
);

create table public.tenant_counter_base (
  tenant_id uuid not null,
  period text not null,
  users_total bigint default 0 not null,
  channels_total bigint default 0 not null,
  storage_bytes bigint default 0 not null,
  files_count bigint default 0 not null,
  updated_at timestamp with time zone default now() not null,
  limits_epoch bigint default 0 not null,
  constraint tenant_counter_base_pkey PRIMARY KEY (tenant_id),
  constraint tenant_counter_base_period_format CHECK ((period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'::text))
) with (fillfactor=70);

create table public.tenant_counter_shards (
  tenant_id uuid not null,
  shard smallint not null,
  users_total bigint default 0 not null,
  channels_total bigint default 0 not null,
  storage_bytes bigint default 0 not null,
  files_count bigint default 0 not null,
  users_spare bigint default 0 not null,
  channels_spare bigint default 0 not null,
  storage_spare bigint default 0 not null,
  period text not null,
  epoch bigint default '-1'::integer not null,
  constraint tenant_counter_shards_pkey PRIMARY KEY (tenant_id, shard),
  constraint tenant_counter_shards_channels_spare CHECK ((channels_spare >= 0)),
  constraint tenant_counter_shards_shard_range CHECK (((shard >= 0) AND (shard <= 63))),
  constraint tenant_counter_shards_storage_spare CHECK ((storage_spare >= 0)),
  constraint tenant_counter_shards_users_spare CHECK ((users_spare >= 0))
) with (fillfactor=50);

create table public.tenant_exports (
  tenant_id uuid not null,
  id uuid default gen_random_uuid() not null,
  status text default 'pending'::text not null,
  requested_by uuid,
  file_name text,
  size_bytes bigint,
  sha256 text,
  manifest jsonb,
  error text,
  created_at timestamp with time zone default now() not null,
  finished_at timestamp with time zone,
  expires_at timestamp with time zone,
  constraint tenant_exports_pkey PRIMARY KEY (tenant_id, id),
  constraint tenant_exports_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'done'::text, 'failed'::text])))
);

create table public.tenant_invitations (
  tenant_id uuid not null,
  id uuid default gen_random_uuid() not null,
  email text not null,
  role text not null,
  token_hash bytea not null,
  invited_by uuid not null,
  expires_at timestamp with time zone not null,
  accepted_at timestamp with time zone,
  accepted_by uuid,
  revoked_at timestamp with time zone,
  revoked_by uuid,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint tenant_invitations_pkey PRIMARY KEY (tenant_id, id),
  constraint tenant_invitations_token_hash_key UNIQUE (tenant_id, token_hash),
  constraint tenant_invitations_email_format CHECK (((email = lower(email)) AND (email ~ '^[^@\s]+@[^@\s]+$'::text))),
  constraint tenant_invitations_role_check CHECK ((role = ANY (ARRAY['admin'::text, 'member'::text]))),
  constraint tenant_invitations_single_outcome CHECK (((accepted_at IS NULL) OR (revoked_at IS NULL))),
  constraint tenant_invitations_token_hash_check CHECK ((length(token_hash) = 32))
);

create table public.tenant_meter_caps (
  tenant_id uuid not null,
  meter_id text not null,
  cap numeric,
  enforcement text default 'hard'::text not null,
  updated_at timestamp with time zone default now() not null,
  constraint tenant_meter_caps_pkey PRIMARY KEY (tenant_id, meter_id),
  constraint tenant_meter_caps_cap_check CHECK (((cap IS NULL) OR (cap >= (0)::numeric))),
  constraint tenant_meter_caps_enforcement_check CHECK ((enforcement = ANY (ARRAY['hard'::text, 'soft'::text])))
);

create table public.tenant_move_changes (
  tenant_id uuid not null,
  seq bigint generated by default as identity not null,
  table_name text not null,
  row_id uuid not null,
  constraint tenant_move_changes_pkey PRIMARY KEY (tenant_id, seq)
);

create table public.tenant_moves (
  tenant_id uuid not null,
  id uuid default gen_random_uuid() not null,
  from_isolation text not null,
  to_isolation text not null,
  source jsonb not null,
  target jsonb not null,
  state text default 'capturing'::text not null,
  prior_status text,
  verification jsonb,
  error text,
  reserved_source boolean default false not null,
  requested_by uuid,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  finished_at timestamp with time zone,
  constraint tenant_moves_pkey PRIMARY KEY (tenant_id, id),
  constraint tenant_moves_changes_tier CHECK (((from_isolation <> to_isolation) OR ((to_isolation = 'database'::text) AND ((source ->> 'database_url_env'::text) IS DISTINCT FROM (target ->> 'database_url_env'::text))))),
  constraint tenant_moves_finished CHECK (((finished_at IS NULL) = (state <> ALL (ARRAY['done'::text, 'aborted'::text])))),
  constraint tenant_moves_from_isolation_check CHECK ((from_isolation = ANY (ARRAY['schema'::text, 'pooled'::text, 'database'::text]))),
  constraint tenant_moves_prior_status_check CHECK ((prior_status = ANY (ARRAY['trial'::text, 'active'::text]))),
  constraint tenant_moves_source_check CHECK ((jsonb_typeof(source) = 'object'::text)),
  constraint tenant_moves_state_check CHECK ((state = ANY (ARRAY['capturing'::text, 'building'::text, 'copying'::text, 'syncing'::text, 'freezing'::text, 'switching'::text, 'exposing'::text, 'cleaning'::text, 'done'::text, 'aborted'::text]))),
  constraint tenant_moves_target_check CHECK ((jsonb_typeof(target) = 'object'::text)),
  constraint tenant_moves_to_isolation_check CHECK ((to_isolation = ANY (ARRAY['schema'::text, 'pooled'::text, 'database'::text])))
);

create table public.tenant_notices (
  tenant_id uuid not null,
  id uuid default gen_random_uuid() not null,
  kind text not null,
  dedupe_key text not null,
  message text not null,
  data jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null,
  constraint tenant_notices_pkey PRIMARY KEY (tenant_id, id),
  constraint tenant_notices_dedupe_key UNIQUE (tenant_id, dedupe_key),
  constraint tenant_notices_data_check CHECK ((jsonb_typeof(data) = 'object'::text)),
  constraint tenant_notices_dedupe_key_check CHECK (((length(dedupe_key) >= 1) AND (length(dedupe_key) <= 200))),
  constraint tenant_notices_kind_check CHECK ((kind ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$'::text))
);

create table public.tenant_settings (
  tenant_id uuid not null,
  settings jsonb default '{}'::jsonb not null,
  features jsonb default '{}'::jsonb not null,
  updated_at timestamp with time zone default now() not null,
  limit_overrides jsonb default '{}'::jsonb not null,
  constraint tenant_settings_pkey PRIMARY KEY (tenant_id),
  constraint tenant_settings_caps CHECK (public.settings_within_caps(settings)),
  constraint tenant_settings_features_check CHECK ((jsonb_typeof(features) = 'object'::text)),
  constraint tenant_settings_limit_overrides_valid CHECK (public.limit_overrides_valid(limit_overrides)),
  constraint tenant_settings_settings_check CHECK ((jsonb_typeof(settings) = 'object'::text))
);

create table public.tenant_usage_counters (
  tenant_id uuid not null,
  period public.usage_period not null,
  shard public.usage_shard not null,
  messages_total bigint default 0 not null,
  constraint tenant_usage_counters_pkey PRIMARY KEY (tenant_id, period, shard)
) with (fillfactor=50);

create table public.tenant_usage_history (
  tenant_id uuid not null,
  period text not null,
  users_total bigint not null,
  channels_total bigint not null,
  storage_bytes bigint not null,
  files_count bigint not null,
  constraint tenant_usage_history_pkey PRIMARY KEY (tenant_id, period),
  constraint tenant_usage_history_period_format CHECK ((period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'::text))
);

create table public.tenant_write_guards (
  tenant_id uuid not null,
  schema_name text not null,
  mode text not null,
  move_id uuid not null,
  updated_at timestamp with time zone default now() not null,
  constraint tenant_write_guards_pkey PRIMARY KEY (tenant_id),
  constraint tenant_write_guards_mode_check CHECK ((mode = ANY (ARRAY['capture'::text, 'frozen'::text])))
);

create table public.tenants (
  id uuid default gen_random_uuid() not null,
  name text not null,
  slug text not null,
  status text default 'active'::text not null,
  isolation text default 'schema'::text not null,
  schema_name text,
  db_role text,
  template_version bigint,
  custom_domain text,
  custom_domain_verified_at timestamp with time zone,
  plan text default 'free'::text not null,
  trial_ends_at timestamp with time zone,
  suspended_at timestamp with time zone,
  cancelled_at timestamp with time zone,
  archived_at timestamp with time zone,
  branding jsonb default '{}'::jsonb not null,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  stripe_customer_id text,
  stripe_subscription_id text,
  subscription_status text,
  billing_interval text,
  current_period_start timestamp with time zone,
  current_period_end timestamp with time zone,
  cancel_at_period_end boolean default false not null,
  last_payment_at timestamp with time zone,
  past_due_since timestamp with time zone,
  grace_ends_at timestamp with time zone,
  billing_suspended boolean default false not null,
  subscription_state_at timestamp with time zone,
  database_name text,
  database_url_env text,
  constraint tenants_pkey PRIMARY KEY (id),
  constraint tenants_custom_domain_key UNIQUE (custom_domain),
  constraint tenants_database_name_key UNIQUE (database_name),
  constraint tenants_db_role_key UNIQUE (db_role),
  constraint tenants_schema_name_key UNIQUE (schema_name),
  constraint tenants_slug_key UNIQUE (slug),
  constraint tenants_billing_interval_check CHECK ((billing_interval = ANY (ARRAY['month'::text, 'year'::text]))),
  constraint tenants_branding_check CHECK ((jsonb_typeof(branding) = 'object'::text)),
  constraint tenants_custom_domain_format CHECK (((custom_domain IS NULL) OR (custom_domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$'::text))),
  constraint tenants_database_url_env_format CHECK ((database_url_env ~ '^TENANT_DATABASE_URL_[A-Z0-9_]{1,40}$'::text)),
  constraint tenants_isolation_check CHECK ((isolation = ANY (ARRAY['schema'::text, 'pooled'::text, 'database'::text]))),
  constraint tenants_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200))),
  constraint tenants_placement_columns CHECK (
CASE isolation
    WHEN 'schema'::text THEN ((schema_name IS NOT NULL) AND (db_role IS NOT NULL) AND (database_name IS NULL) AND (database_url_env IS NULL))
    WHEN 'pooled'::text THEN ((schema_name IS NULL) AND (db_role IS NULL) AND (database_name IS NULL) AND (database_url_env IS NULL))
    WHEN 'database'::text THEN ((schema_name IS NOT NULL) AND (db_role IS NOT NULL) AND (database_name IS NOT NULL))
    ELSE NULL::boolean
END),
  constraint tenants_slug_format CHECK ((slug ~ '^[a-z][a-z0-9-]{1,39}$'::text)),
  constraint tenants_slug_not_reserved CHECK ((NOT public.slug_is_reserved(slug))),
  constraint tenants_status_check CHECK ((status = ANY (ARRAY['trial'::text, 'active'::text, 'suspended'::text, 'cancelled'::text, 'archived'::text, 'migrating'::text]))),
  constraint tenants_subscription_status_check CHECK ((subscription_status = ANY (ARRAY['incomplete'::text, 'incomplete_expired'::text, 'trialing'::text, 'active'::text, 'past_due'::text, 'canceled'::text, 'unpaid'::text, 'paused'::text])))
);

create table public.usage_events (
  tenant_id uuid default public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  meter_id text not null,
  user_id text,
  value numeric not null,
  properties jsonb default '{}'::jsonb not null,
  occurred_at timestamp with time zone not null,
  period text not null,
  idempotency_key text not null,
  request_hash text not null,
  correction boolean default false not null,
  reason text,
  actor_id uuid,
  created_at timestamp with time zone default clock_timestamp() not null,
  reported_in uuid,
  constraint usage_events_pkey PRIMARY KEY (tenant_id, id),
  constraint usage_events_idempotency_key UNIQUE (tenant_id, idempotency_key),
  constraint usage_events_idempotency_key_check CHECK (((length(idempotency_key) >= 1) AND (length(idempotency_key) <= 255))),
  constraint usage_events_period_check CHECK ((period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'::text)),
  constraint usage_events_properties_check CHECK ((jsonb_typeof(properties) = 'object'::text)),
  constraint usage_events_reason_check CHECK ((length(reason) <= 500)),
  constraint usage_events_sign CHECK ((correction OR (value >= (0)::numeric))),
  constraint usage_events_user_id_check CHECK (((length(user_id) >= 1) AND (length(user_id) <= 200)))
);

create table public.usage_meter_totals (
  tenant_id uuid not null,
  meter_id text not null,
  period text not null,
  usage numeric default 0 not null,
  value_sum numeric default 0 not null,
  event_count bigint default 0 not null,
  value_max numeric,
  overage numeric default 0 not null,
  updated_at timestamp with time zone default now() not null,
  constraint usage_meter_totals_pkey PRIMARY KEY (tenant_id, meter_id, period),
  constraint usage_meter_totals_period_check CHECK ((period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'::text))
);

create table public.webhook_deliveries (
  tenant_id uuid not null,
  id uuid default gen_random_uuid() not null,
  endpoint_id uuid not null,
  event_id uuid not null,
  event_type text not null,
  status text default 'pending'::text not null,
  attempts integer default 0 not null,
  next_attempt_at timestamp with time zone default now() not null,
  locked_until timestamp with time zone,
  last_status_code integer,
  last_error text,
  last_latency_ms integer,
  replay_of uuid,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  finished_at timestamp with time zone,
  constraint webhook_deliveries_pkey PRIMARY KEY (tenant_id, id),
  constraint webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'succeeded'::text, 'failed'::text, 'cancelled'::text])))
);

create table public.webhook_delivery_attempts (
  tenant_id uuid not null,
  delivery_id uuid not null,
  attempt integer not null,
  status_code integer,
  latency_ms integer not null,
  error text,
  created_at timestamp with time zone default now() not null,
  constraint webhook_delivery_attempts_pkey PRIMARY KEY (tenant_id, delivery_id, attempt),
  constraint webhook_delivery_attempts_attempt_check CHECK ((attempt > 0))
);

create table public.webhook_endpoints (
  tenant_id uuid default public.current_tenant_id() not null,
  id uuid default gen_random_uuid() not null,
  url text not null,
  description text,
  event_types text[] not null,
  secret text not null,
  enabled boolean default true not null,
  disabled_at timestamp with time zone,
  disabled_reason text,
  failing_since timestamp with time zone,
  created_by uuid,
  created_at timestamp with time zone default now() not null,
  updated_at timestamp with time zone default now() not null,
  constraint webhook_endpoints_pkey PRIMARY KEY (tenant_id, id),
  constraint webhook_endpoints_description_check CHECK ((length(description) <= 500)),
  constraint webhook_endpoints_event_types_check CHECK (((cardinality(event_types) >= 1) AND (cardinality(event_types) <= 50))),
  constraint webhook_endpoints_url_check CHECK (((length(url) >= 8) AND (length(url) <= 2000) AND (url ~ '^https?://'::text)))
);

create table public.webhook_events (
  tenant_id uuid not null,
  id uuid default gen_random_uuid() not null,
  type text not null,
  payload jsonb not null,
  created_at timestamp with time zone default now() not null,
  constraint webhook_events_pkey PRIMARY KEY (tenant_id, id)
);


------------------------------------------------------------------------------
-- foreign keys
------------------------------------------------------------------------------
alter table only pooled.channels add constraint channels_created_by_fkey FOREIGN KEY (tenant_id, created_by) REFERENCES pooled.members(tenant_id, id) ON DELETE CASCADE;
alter table only pooled.channels add constraint channels_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only pooled.files add constraint files_channel_id_fkey FOREIGN KEY (tenant_id, channel_id) REFERENCES pooled.channels(tenant_id, id) ON DELETE CASCADE;
alter table only pooled.files add constraint files_member_id_fkey FOREIGN KEY (tenant_id, member_id) REFERENCES pooled.members(tenant_id, id) ON DELETE CASCADE;
alter table only pooled.files add constraint files_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only pooled.members add constraint members_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only pooled.messages add constraint messages_channel_id_fkey FOREIGN KEY (tenant_id, channel_id) REFERENCES pooled.channels(tenant_id, id) ON DELETE CASCADE;
alter table only pooled.messages add constraint messages_member_id_fkey FOREIGN KEY (tenant_id, member_id) REFERENCES pooled.members(tenant_id, id) ON DELETE CASCADE;
alter table only pooled.messages add constraint messages_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.analytics_events add constraint analytics_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.auth_refresh_tokens add constraint auth_refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES public.auth_sessions(id) ON DELETE CASCADE;
alter table only public.auth_sessions add constraint auth_sessions_identity_id_fkey FOREIGN KEY (identity_id) REFERENCES public.identities(id) ON DELETE CASCADE;
alter table only public.auth_sessions add constraint auth_sessions_scope_tenant_id_fkey FOREIGN KEY (scope_tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.connector_events add constraint connector_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.custom_domain_verifications add constraint custom_domain_verifications_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.hasura_tenant_sources add constraint hasura_tenant_sources_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.identity_tokens add constraint identity_tokens_context_tenant_id_fkey FOREIGN KEY (context_tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.identity_tokens add constraint identity_tokens_identity_id_fkey FOREIGN KEY (identity_id) REFERENCES public.identities(id) ON DELETE CASCADE;
alter table only public.memberships add constraint memberships_identity_id_fkey FOREIGN KEY (identity_id) REFERENCES public.identities(id) ON DELETE CASCADE;
alter table only public.memberships add constraint memberships_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.outbox add constraint outbox_context_tenant_id_fkey FOREIGN KEY (context_tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.plan_meters add constraint plan_meters_meter_id_fkey FOREIGN KEY (meter_id) REFERENCES public.meters(id) ON DELETE CASCADE;
alter table only public.plan_meters add constraint plan_meters_plan_id_fkey FOREIGN KEY (plan_id) REFERENCES public.plans(id) ON DELETE CASCADE;
alter table only public.stripe_meter_reports add constraint stripe_meter_reports_meter_id_fkey FOREIGN KEY (meter_id) REFERENCES public.meters(id) ON DELETE RESTRICT;
alter table only public.stripe_meter_reports add constraint stripe_meter_reports_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_api_calls add constraint tenant_api_calls_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_api_keys add constraint tenant_api_keys_created_by_fkey FOREIGN KEY (created_by) REFERENCES public.identities(id) ON DELETE RESTRICT;
alter table only public.tenant_api_keys add constraint tenant_api_keys_revoked_by_fkey FOREIGN KEY (revoked_by) REFERENCES public.identities(id) ON DELETE RESTRICT;
alter table only public.tenant_api_keys add constraint tenant_api_keys_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_counter_base add constraint tenant_counter_base_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_counter_shards add constraint tenant_counter_shards_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_exports add constraint tenant_exports_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_invitations add constraint tenant_invitations_invited_by_fkey FOREIGN KEY (invited_by) REFERENCES public.identities(id) ON DELETE CASCADE;
alter table only public.tenant_invitations add constraint tenant_invitations_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_meter_caps add constraint tenant_meter_caps_meter_id_fkey FOREIGN KEY (meter_id) REFERENCES public.meters(id) ON DELETE CASCADE;
alter table only public.tenant_meter_caps add constraint tenant_meter_caps_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_move_changes add constraint tenant_move_changes_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_moves add constraint tenant_moves_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_notices add constraint tenant_notices_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_settings add constraint tenant_settings_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_usage_counters add constraint tenant_usage_counters_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_usage_history add constraint tenant_usage_history_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenant_write_guards add constraint tenant_write_guards_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.tenants add constraint tenants_plan_fkey FOREIGN KEY (plan) REFERENCES public.plans(id) ON DELETE RESTRICT;
alter table only public.usage_events add constraint usage_events_meter_id_fkey FOREIGN KEY (meter_id) REFERENCES public.meters(id) ON DELETE RESTRICT;
alter table only public.usage_events add constraint usage_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.usage_meter_totals add constraint usage_meter_totals_meter_id_fkey FOREIGN KEY (meter_id) REFERENCES public.meters(id) ON DELETE CASCADE;
alter table only public.usage_meter_totals add constraint usage_meter_totals_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.webhook_deliveries add constraint webhook_deliveries_endpoint_fkey FOREIGN KEY (tenant_id, endpoint_id) REFERENCES public.webhook_endpoints(tenant_id, id) ON DELETE CASCADE;
alter table only public.webhook_deliveries add constraint webhook_deliveries_event_fkey FOREIGN KEY (tenant_id, event_id) REFERENCES public.webhook_events(tenant_id, id) ON DELETE CASCADE;
alter table only public.webhook_deliveries add constraint webhook_deliveries_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.webhook_delivery_attempts add constraint webhook_delivery_attempts_delivery_fkey FOREIGN KEY (tenant_id, delivery_id) REFERENCES public.webhook_deliveries(tenant_id, id) ON DELETE CASCADE;
alter table only public.webhook_delivery_attempts add constraint webhook_delivery_attempts_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.webhook_endpoints add constraint webhook_endpoints_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;
alter table only public.webhook_events add constraint webhook_events_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES public.tenants(id) ON DELETE CASCADE;

------------------------------------------------------------------------------
-- indexes
------------------------------------------------------------------------------
CREATE INDEX channels_created_by_idx ON pooled.channels USING btree (tenant_id, created_by);
CREATE INDEX files_channel_id_idx ON pooled.files USING btree (tenant_id, channel_id);
CREATE INDEX files_member_id_idx ON pooled.files USING btree (tenant_id, member_id);
CREATE INDEX messages_channel_id_created_at_idx ON pooled.messages USING btree (tenant_id, channel_id, created_at);
CREATE INDEX messages_member_id_idx ON pooled.messages USING btree (tenant_id, member_id);
CREATE INDEX analytics_events_occurred_idx ON public.analytics_events USING btree (tenant_id, occurred_at);
CREATE INDEX auth_refresh_tokens_session_id_idx ON public.auth_refresh_tokens USING btree (session_id);
CREATE INDEX auth_sessions_identity_id_idx ON public.auth_sessions USING btree (identity_id);
CREATE INDEX auth_sessions_scope_tenant_id_idx ON public.auth_sessions USING btree (scope_tenant_id);
CREATE INDEX connector_events_occurred_idx ON public.connector_events USING btree (tenant_id, connector, occurred_at);
CREATE INDEX custom_domain_verifications_checked_idx ON public.custom_domain_verifications USING btree (state, last_checked_at);
CREATE INDEX custom_domain_verifications_due_idx ON public.custom_domain_verifications USING btree (state, next_check_at);
CREATE INDEX hasura_event_receipts_received_at_idx ON public.hasura_event_receipts USING btree (received_at);
CREATE INDEX identity_tokens_context_tenant_id_idx ON public.identity_tokens USING btree (context_tenant_id);
CREATE INDEX identity_tokens_identity_id_idx ON public.identity_tokens USING btree (identity_id);
CREATE INDEX memberships_identity_id_idx ON public.memberships USING btree (identity_id);
CREATE INDEX outbox_context_tenant_id_idx ON public.outbox USING btree (context_tenant_id);
CREATE INDEX outbox_created_at_idx ON public.outbox USING btree (created_at);
CREATE INDEX platform_audit_logs_created_at_idx ON public.platform_audit_logs USING btree (created_at);
CREATE INDEX platform_audit_logs_entity_idx ON public.platform_audit_logs USING btree (entity_type, entity_id, id);
CREATE INDEX stripe_meter_reports_pending_idx ON public.stripe_meter_reports USING btree (tenant_id, status) WHERE (status = 'pending'::text);
CREATE INDEX stripe_webhooks_backlog_idx ON public.stripe_webhooks USING btree (event_created_at, id) WHERE (NOT processed);
CREATE INDEX stripe_webhooks_tenant_idx ON public.stripe_webhooks USING btree (tenant_id, created_at) WHERE (tenant_id IS NOT NULL);
CREATE INDEX tenant_api_keys_prefix_idx ON public.tenant_api_keys USING btree (prefix);
CREATE INDEX tenant_audit_logs_action_idx ON public.tenant_audit_logs USING btree (tenant_id, action, seq);
CREATE INDEX tenant_audit_logs_created_at_idx ON public.tenant_audit_logs USING btree (tenant_id, created_at);
CREATE INDEX tenant_audit_logs_platform_order_idx ON public.tenant_audit_logs USING btree (created_at);
CREATE INDEX tenant_audit_personal_emails_idx ON public.tenant_audit_personal USING gin (emails);
CREATE INDEX tenant_audit_personal_subject_ids_idx ON public.tenant_audit_personal USING gin (subject_ids);
CREATE INDEX tenant_exports_expires_at_idx ON public.tenant_exports USING btree (expires_at) WHERE (file_name IS NOT NULL);
CREATE INDEX tenant_invitations_expires_at_idx ON public.tenant_invitations USING btree (expires_at) WHERE (accepted_at IS NULL);
CREATE UNIQUE INDEX tenant_invitations_pending_email_key ON public.tenant_invitations USING btree (tenant_id, email) WHERE ((accepted_at IS NULL) AND (revoked_at IS NULL));
CREATE INDEX tenant_invitations_token_hash_idx ON public.tenant_invitations USING btree (token_hash);
CREATE INDEX tenant_meter_caps_meter_idx ON public.tenant_meter_caps USING btree (tenant_id, meter_id);
CREATE UNIQUE INDEX tenant_moves_active_key ON public.tenant_moves USING btree (tenant_id) WHERE (finished_at IS NULL);
CREATE INDEX tenant_notices_created_at_idx ON public.tenant_notices USING btree (tenant_id, created_at);
CREATE INDEX tenants_grace_ends_at_idx ON public.tenants USING btree (grace_ends_at) WHERE (past_due_since IS NOT NULL);
CREATE INDEX tenants_plan_idx ON public.tenants USING btree (plan);
CREATE INDEX tenants_status_cancelled_at_idx ON public.tenants USING btree (status, cancelled_at);
CREATE UNIQUE INDEX tenants_stripe_customer_id_key ON public.tenants USING btree (stripe_customer_id);
CREATE UNIQUE INDEX tenants_stripe_subscription_id_key ON public.tenants USING btree (stripe_subscription_id);
CREATE INDEX tenants_trial_ends_at_idx ON public.tenants USING btree (trial_ends_at) WHERE (status = 'trial'::text);
CREATE INDEX usage_events_unreported_idx ON public.usage_events USING btree (tenant_id, meter_id) WHERE (reported_in IS NULL);
CREATE INDEX usage_meter_totals_meter_idx ON public.usage_meter_totals USING btree (tenant_id, meter_id);
CREATE INDEX webhook_deliveries_due_all_idx ON public.webhook_deliveries USING btree (next_attempt_at) WHERE (status = 'pending'::text);
CREATE INDEX webhook_deliveries_due_idx ON public.webhook_deliveries USING btree (tenant_id, next_attempt_at) WHERE (status = 'pending'::text);
CREATE INDEX webhook_deliveries_endpoint_idx ON public.webhook_deliveries USING btree (tenant_id, endpoint_id, created_at);
CREATE INDEX webhook_deliveries_event_idx ON public.webhook_deliveries USING btree (tenant_id, event_id);

------------------------------------------------------------------------------
-- functions over table row types
------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION public.audit_row_hash(r public.tenant_audit_logs)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN (COALESCE(((r).hash_version)::integer, 1) = 1) THEN encode(sha256(convert_to((jsonb_build_array((r).tenant_id, (r).seq, (r).actor_kind, (r).actor_id, (r).actor_role, (r).action, (r).entity_type, (r).entity_id, (r).old_values, (r).new_values, (r).ip, (r).user_agent, EXTRACT(epoch FROM (r).created_at), (r).prev_hash))::text, 'UTF8'::name)), 'hex'::text) ELSE encode(sha256(convert_to((jsonb_build_array(2, (r).tenant_id, (r).seq, (r).actor_kind, (r).actor_id, (r).actor_role, (r).action, (r).entity_type, (r).entity_id, (r).old_values, (r).new_values, EXTRACT(epoch FROM (r).created_at), (r).personal_digest, (r).prev_hash))::text, 'UTF8'::name)), 'hex'::text) END;


------------------------------------------------------------------------------
-- views
------------------------------------------------------------------------------
create view public.tenant_audit_entries with (security_invoker=true) as
 SELECT l.tenant_id,
    l.seq,
    l.actor_kind,
    l.actor_id,
    l.actor_role,
    l.action,
    l.entity_type,
    l.entity_id,
        CASE
            WHEN l.old_values IS NULL THEN NULL::jsonb
            ELSE l.old_values || COALESCE(p.data -> 'old'::text, '{}'::jsonb)
        END AS old_values,
        CASE
            WHEN l.new_values IS NULL THEN NULL::jsonb
            ELSE l.new_values || COALESCE(p.data -> 'new'::text, '{}'::jsonb)
        END AS new_values,
    COALESCE(l.ip, p.data ->> 'ip'::text) AS ip,
    COALESCE(l.user_agent, p.data ->> 'user_agent'::text) AS user_agent,
    l.created_at,
    l.prev_hash,
    l.hash,
    l.hash_version,
    l.personal_digest
   FROM public.tenant_audit_logs l
     LEFT JOIN public.tenant_audit_personal p ON p.tenant_id = l.tenant_id AND p.seq = l.seq;

create view public.tenant_counters with (security_invoker=true) as
 SELECT b.tenant_id,
    b.period,
    b.users_total + COALESCE(s.users_total, 0::numeric)::bigint AS users_total,
    b.channels_total + COALESCE(s.channels_total, 0::numeric)::bigint AS channels_total,
    b.storage_bytes + COALESCE(s.storage_bytes, 0::numeric)::bigint AS storage_bytes,
    b.files_count + COALESCE(s.files_count, 0::numeric)::bigint AS files_count,
    b.updated_at
   FROM public.tenant_counter_base b
     LEFT JOIN LATERAL ( SELECT sum(x.users_total) AS users_total,
            sum(x.channels_total) AS channels_total,
            sum(x.storage_bytes) AS storage_bytes,
            sum(x.files_count) AS files_count
           FROM public.tenant_counter_shards x
          WHERE x.tenant_id = b.tenant_id) s ON true;

create view public.tenant_usage with (security_invoker=true) as
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
                   FROM public.tenant_counters c
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
          WHERE u.tenant_id = t.id AND u.period::text = m.period) msg ON true
     LEFT JOIN LATERAL ( SELECT sum(a.calls) AS api_calls_total,
            jsonb_object_agg(a.endpoint, a.calls) AS api_calls_by_endpoint
           FROM public.tenant_api_calls a
          WHERE a.tenant_id = t.id AND a.period = m.period) api ON true;


------------------------------------------------------------------------------
-- row-level security
------------------------------------------------------------------------------
alter table pooled.channels enable row level security;
alter table pooled.channels force row level security;
alter table pooled.files enable row level security;
alter table pooled.files force row level security;
alter table pooled.members enable row level security;
alter table pooled.members force row level security;
alter table pooled.messages enable row level security;
alter table pooled.messages force row level security;
alter table public.analytics_events enable row level security;
alter table public.analytics_events force row level security;
alter table public.auth_refresh_tokens enable row level security;
alter table public.auth_refresh_tokens force row level security;
alter table public.auth_sessions enable row level security;
alter table public.auth_sessions force row level security;
alter table public.connector_events enable row level security;
alter table public.connector_events force row level security;
alter table public.custom_domain_verifications enable row level security;
alter table public.custom_domain_verifications force row level security;
alter table public.deployment_settings enable row level security;
alter table public.deployment_settings force row level security;
alter table public.hasura_event_receipts enable row level security;
alter table public.hasura_event_receipts force row level security;
alter table public.hasura_tenant_sources enable row level security;
alter table public.hasura_tenant_sources force row level security;
alter table public.identities enable row level security;
alter table public.identities force row level security;
alter table public.identity_tokens enable row level security;
alter table public.identity_tokens force row level security;
alter table public.memberships enable row level security;
alter table public.memberships force row level security;
alter table public.meters enable row level security;
alter table public.meters force row level security;
alter table public.outbox enable row level security;
alter table public.outbox force row level security;
alter table public.plan_meters enable row level security;
alter table public.plan_meters force row level security;
alter table public.plans enable row level security;
alter table public.plans force row level security;
alter table public.platform_audit_logs enable row level security;
alter table public.platform_audit_logs force row level security;
alter table public.schema_migrations enable row level security;
alter table public.schema_migrations force row level security;
alter table public.stripe_meter_reports enable row level security;
alter table public.stripe_meter_reports force row level security;
alter table public.stripe_webhooks enable row level security;
alter table public.stripe_webhooks force row level security;
alter table public.tenant_api_calls enable row level security;
alter table public.tenant_api_calls force row level security;
alter table public.tenant_api_keys enable row level security;
alter table public.tenant_api_keys force row level security;
alter table public.tenant_audit_heads enable row level security;
alter table public.tenant_audit_heads force row level security;
alter table public.tenant_audit_logs enable row level security;
alter table public.tenant_audit_logs force row level security;
alter table public.tenant_audit_personal enable row level security;
alter table public.tenant_audit_personal force row level security;
alter table public.tenant_audit_retention enable row level security;
alter table public.tenant_audit_retention force row level security;
alter table public.tenant_counter_base enable row level security;
alter table public.tenant_counter_base force row level security;
alter table public.tenant_counter_shards enable row level security;
alter table public.tenant_counter_shards force row level security;
alter table public.tenant_exports enable row level security;
alter table public.tenant_exports force row level security;
alter table public.tenant_invitations enable row level security;
alter table public.tenant_invitations force row level security;
alter table public.tenant_meter_caps enable row level security;
alter table public.tenant_meter_caps force row level security;
alter table public.tenant_move_changes enable row level security;
alter table public.tenant_move_changes force row level security;
alter table public.tenant_moves enable row level security;
alter table public.tenant_moves force row level security;
alter table public.tenant_notices enable row level security;
alter table public.tenant_notices force row level security;
alter table public.tenant_settings enable row level security;
alter table public.tenant_settings force row level security;
alter table public.tenant_usage_counters enable row level security;
alter table public.tenant_usage_counters force row level security;
alter table public.tenant_usage_history enable row level security;
alter table public.tenant_usage_history force row level security;
alter table public.tenant_write_guards enable row level security;
alter table public.tenant_write_guards force row level security;
alter table public.tenants enable row level security;
alter table public.tenants force row level security;
alter table public.usage_events enable row level security;
alter table public.usage_events force row level security;
alter table public.usage_meter_totals enable row level security;
alter table public.usage_meter_totals force row level security;
alter table public.webhook_deliveries enable row level security;
alter table public.webhook_deliveries force row level security;
alter table public.webhook_delivery_attempts enable row level security;
alter table public.webhook_delivery_attempts force row level security;
alter table public.webhook_endpoints enable row level security;
alter table public.webhook_endpoints force row level security;
alter table public.webhook_events enable row level security;
alter table public.webhook_events force row level security;
create policy app_tenant on pooled.channels as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on pooled.channels as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on pooled.channels as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on pooled.channels as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on pooled.channels as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on pooled.files as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on pooled.files as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on pooled.files as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on pooled.files as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on pooled.files as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on pooled.members as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on pooled.members as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on pooled.members as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on pooled.members as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on pooled.members as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on pooled.messages as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on pooled.messages as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on pooled.messages as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on pooled.messages as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on pooled.messages as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.analytics_events as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.analytics_events as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.analytics_events as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.analytics_events as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.analytics_events as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.connector_events as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.connector_events as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.connector_events as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.connector_events as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.connector_events as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.custom_domain_verifications as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.custom_domain_verifications as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.custom_domain_verifications as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.custom_domain_verifications as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.custom_domain_verifications as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.hasura_tenant_sources as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.hasura_tenant_sources as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.hasura_tenant_sources as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.hasura_tenant_sources as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.hasura_tenant_sources as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy identities_app_self on public.identities as permissive for select to app
  using ((id = public.current_user_id()));
create policy identities_app_update_self on public.identities as permissive for update to app
  using ((id = public.current_user_id()))
  with check ((id = public.current_user_id()));
create policy identities_hasura_self on public.identities as permissive for select to hasura
  using (((public.hasura_session() IS NULL) OR (public.hasura_role() = 'admin'::text) OR (id = (NULLIF((public.hasura_session() ->> 'x-hasura-user-id'::text), ''::text))::uuid)));
create policy identities_hasura_update_self on public.identities as permissive for update to hasura
  using ((id = (NULLIF((public.hasura_session() ->> 'x-hasura-user-id'::text), ''::text))::uuid))
  with check ((id = (NULLIF((public.hasura_session() ->> 'x-hasura-user-id'::text), ''::text))::uuid));
create policy app_tenant on public.memberships as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.memberships as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.memberships as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.memberships as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.memberships as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy meters_read on public.meters as permissive for select to app, hasura
  using (true);
create policy plan_meters_read on public.plan_meters as permissive for select to app, hasura
  using (true);
create policy plans_read on public.plans as permissive for select to app, hasura
  using (true);
create policy app_tenant on public.stripe_meter_reports as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.stripe_meter_reports as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.stripe_meter_reports as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.stripe_meter_reports as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.stripe_meter_reports as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_api_calls as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_api_calls as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_api_calls as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_api_calls as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_api_calls as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_api_keys as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_api_keys as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_api_keys as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_api_keys as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_api_keys as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_audit_heads as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy audit_logs_feature on public.tenant_audit_heads as restrictive for select to app, hasura
  using (public.tenant_has_feature(tenant_id, 'audit_logs'::text));
create policy hasura_delete on public.tenant_audit_heads as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_audit_heads as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_audit_heads as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_audit_heads as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_audit_logs as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy audit_logs_feature on public.tenant_audit_logs as restrictive for select to app, hasura
  using (public.tenant_has_feature(tenant_id, 'audit_logs'::text));
create policy hasura_delete on public.tenant_audit_logs as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_audit_logs as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_audit_logs as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_audit_logs as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_audit_personal as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_audit_personal as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_audit_personal as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_audit_personal as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_audit_personal as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_audit_retention as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_audit_retention as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_audit_retention as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_audit_retention as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_audit_retention as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_counter_base as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_counter_base as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_counter_base as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_counter_base as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_counter_base as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_counter_shards as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_counter_shards as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_counter_shards as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_counter_shards as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_counter_shards as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_exports as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_exports as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_exports as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_exports as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_exports as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_invitations as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_invitations as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_invitations as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_invitations as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_invitations as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_meter_caps as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_meter_caps as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_meter_caps as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_meter_caps as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_meter_caps as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_move_changes as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_move_changes as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_move_changes as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_move_changes as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_move_changes as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_moves as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_moves as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_moves as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_moves as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_moves as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_notices as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_notices as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_notices as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_notices as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_notices as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_settings as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_settings as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_settings as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_settings as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_settings as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_usage_counters as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_usage_counters as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_usage_counters as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_usage_counters as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_usage_counters as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_usage_history as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_usage_history as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_usage_history as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_usage_history as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_usage_history as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenant_write_guards as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenant_write_guards as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenant_write_guards as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.tenant_write_guards as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.tenant_write_guards as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.tenants as permissive for all to app
  using ((id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.tenants as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (id = public.hasura_tenant_id())));
create policy hasura_insert on public.tenants as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (id = public.hasura_tenant_id())));
create policy hasura_select on public.tenants as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (id = public.hasura_tenant_id())));
create policy hasura_update on public.tenants as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (id = public.hasura_tenant_id())));
create policy app_tenant on public.usage_events as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.usage_events as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.usage_events as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.usage_events as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.usage_events as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.usage_meter_totals as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.usage_meter_totals as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.usage_meter_totals as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.usage_meter_totals as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.usage_meter_totals as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.webhook_deliveries as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.webhook_deliveries as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.webhook_deliveries as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.webhook_deliveries as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.webhook_deliveries as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.webhook_delivery_attempts as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.webhook_delivery_attempts as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.webhook_delivery_attempts as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.webhook_delivery_attempts as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.webhook_delivery_attempts as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.webhook_endpoints as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.webhook_endpoints as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.webhook_endpoints as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.webhook_endpoints as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.webhook_endpoints as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy app_tenant on public.webhook_events as permissive for all to app
  using ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid))
  with check ((tenant_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid));
create policy hasura_delete on public.webhook_events as permissive for delete to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_insert on public.webhook_events as permissive for insert to hasura
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_select on public.webhook_events as permissive for select to hasura
  using (((public.hasura_tenant_id() IS NULL) OR (tenant_id = public.hasura_tenant_id())));
create policy hasura_update on public.webhook_events as permissive for update to hasura
  using (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())))
  with check (((public.hasura_role() = 'admin'::text) OR (tenant_id = public.hasura_tenant_id())));

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
CREATE TRIGGER _050_move_guard BEFORE INSERT OR DELETE OR UPDATE ON pooled.channels FOR EACH ROW EXECUTE FUNCTION public.tg__move_guard();
CREATE TRIGGER _500_limits AFTER INSERT ON pooled.channels FOR EACH ROW EXECUTE FUNCTION public.tg__limits();
CREATE TRIGGER _800_usage AFTER DELETE ON pooled.channels FOR EACH ROW EXECUTE FUNCTION public.tg__usage();
CREATE TRIGGER _050_move_guard BEFORE INSERT OR DELETE OR UPDATE ON pooled.files FOR EACH ROW EXECUTE FUNCTION public.tg__move_guard();
CREATE TRIGGER _500_limits AFTER INSERT OR UPDATE OF size_bytes ON pooled.files FOR EACH ROW EXECUTE FUNCTION public.tg__limits();
CREATE TRIGGER _800_usage AFTER DELETE ON pooled.files FOR EACH ROW EXECUTE FUNCTION public.tg__usage();
CREATE TRIGGER _050_move_guard BEFORE INSERT OR DELETE OR UPDATE ON pooled.members FOR EACH ROW EXECUTE FUNCTION public.tg__move_guard();
CREATE TRIGGER _500_limits AFTER INSERT ON pooled.members FOR EACH ROW EXECUTE FUNCTION public.tg__limits();
CREATE TRIGGER _800_usage AFTER DELETE ON pooled.members FOR EACH ROW EXECUTE FUNCTION public.tg__usage();
CREATE TRIGGER _050_move_guard BEFORE INSERT OR DELETE OR UPDATE ON pooled.messages FOR EACH ROW EXECUTE FUNCTION public.tg__move_guard();
CREATE CONSTRAINT TRIGGER _800_usage AFTER INSERT ON pooled.messages DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (public.usage_tally(('saas_usage.messages_'::text || replace((new.tenant_id)::text, '-'::text, ''::text)))) EXECUTE FUNCTION public.tg__usage_flush();
CREATE TRIGGER _950_access_notify AFTER DELETE OR UPDATE OF identity_id, revoked_at, expires_at ON public.auth_sessions FOR EACH ROW EXECUTE FUNCTION public.tg_access__notify();
CREATE TRIGGER _950_access_notify_truncate AFTER TRUNCATE ON public.auth_sessions FOR EACH STATEMENT EXECUTE FUNCTION public.tg_access__notify();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.custom_domain_verifications FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.identities FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _950_access_notify AFTER DELETE OR UPDATE OF is_platform_admin ON public.identities FOR EACH ROW EXECUTE FUNCTION public.tg_access__notify();
CREATE TRIGGER _950_access_notify_truncate AFTER TRUNCATE ON public.identities FOR EACH STATEMENT EXECUTE FUNCTION public.tg_access__notify();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.memberships FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _200_rules BEFORE INSERT OR DELETE OR UPDATE ON public.memberships FOR EACH ROW EXECUTE FUNCTION public.tg_memberships__rules();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON public.memberships FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=membership', 'tenant=tenant_id', 'key=identity_id', 'ignore=created_at,updated_at', 'insert=added', 'delete=removed', 'group.role_changed=role');
CREATE TRIGGER _950_access_notify AFTER INSERT OR DELETE OR UPDATE OF role, tenant_id, identity_id ON public.memberships FOR EACH ROW EXECUTE FUNCTION public.tg_access__notify();
CREATE TRIGGER _950_access_notify_truncate AFTER TRUNCATE ON public.memberships FOR EACH STATEMENT EXECUTE FUNCTION public.tg_access__notify();
CREATE TRIGGER _950_webhooks AFTER INSERT OR DELETE OR UPDATE ON public.memberships FOR EACH ROW EXECUTE FUNCTION public.tg_memberships__webhooks();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.meters FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.plan_meters FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.plans FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _700_limits_epoch AFTER UPDATE OF max_users, max_channels, max_storage_bytes ON public.plans FOR EACH ROW WHEN (((old.max_users IS DISTINCT FROM new.max_users) OR (old.max_channels IS DISTINCT FROM new.max_channels) OR (old.max_storage_bytes IS DISTINCT FROM new.max_storage_bytes))) EXECUTE FUNCTION public.tg__limits_epoch();
CREATE TRIGGER _900_audit AFTER UPDATE ON public.plans FOR EACH ROW EXECUTE FUNCTION public.tg_plans__audit();
CREATE TRIGGER _950_notify AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON public.plans FOR EACH STATEMENT EXECUTE FUNCTION public.tg_plans__notify();
CREATE TRIGGER _010_append_only BEFORE DELETE OR UPDATE ON public.platform_audit_logs FOR EACH ROW EXECUTE FUNCTION public.tg__append_only();
CREATE TRIGGER _100_timestamps BEFORE UPDATE ON public.stripe_webhooks FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON public.tenant_api_keys FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=api_key', 'tenant=tenant_id', 'key=id', 'ignore=last_used_at', 'redact=key_hash', 'group.revoked=revoked_at,+revoked_by');
CREATE TRIGGER _950_access_notify AFTER INSERT OR DELETE OR UPDATE OF tenant_id, prefix, key_hash, role, revoked_at, expires_at ON public.tenant_api_keys FOR EACH ROW EXECUTE FUNCTION public.tg_access__notify();
CREATE TRIGGER _950_access_notify_truncate AFTER TRUNCATE ON public.tenant_api_keys FOR EACH STATEMENT EXECUTE FUNCTION public.tg_access__notify();
CREATE TRIGGER _010_append_only BEFORE DELETE OR UPDATE ON public.tenant_audit_logs FOR EACH ROW EXECUTE FUNCTION public.tg__append_only();
CREATE TRIGGER _010_append_only_truncate BEFORE TRUNCATE ON public.tenant_audit_logs FOR EACH STATEMENT EXECUTE FUNCTION public.tg__append_only();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.tenant_audit_retention FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.tenant_invitations FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON public.tenant_invitations FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=invitation', 'tenant=tenant_id', 'key=id', 'ignore=created_at,updated_at', 'redact=token_hash', 'group.accepted=accepted_at,+accepted_by', 'group.revoked=revoked_at,+revoked_by');
CREATE TRIGGER _950_webhooks AFTER UPDATE OF accepted_at ON public.tenant_invitations FOR EACH ROW EXECUTE FUNCTION public.tg_tenant_invitations__webhooks();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.tenant_meter_caps FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON public.tenant_meter_caps FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=meter_cap', 'tenant=tenant_id', 'key=meter_id', 'ignore=updated_at');
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.tenant_moves FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON public.tenant_moves FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=tenant_move', 'tenant=tenant_id', 'key=id', 'ignore=updated_at,verification,reserved_source,prior_status', 'insert=requested', 'group.state_changed=state,+finished_at,+error');
CREATE TRIGGER _900_audit AFTER INSERT ON public.tenant_notices FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=notice', 'tenant=tenant_id', 'key=id', 'insert=recorded');
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.tenant_settings FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _700_limits_epoch AFTER INSERT OR UPDATE OF limit_overrides ON public.tenant_settings FOR EACH ROW EXECUTE FUNCTION public.tg__limits_epoch();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON public.tenant_settings FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=settings', 'tenant=tenant_id', 'key=tenant_id', 'ignore=updated_at', 'diff=settings', 'group.features.updated=features', 'group.settings.updated=settings');
CREATE TRIGGER _900_notify AFTER UPDATE OF limit_overrides, features ON public.tenant_settings FOR EACH ROW EXECUTE FUNCTION public.tg_tenant_settings__notify();
CREATE TRIGGER _950_webhooks AFTER UPDATE OF settings ON public.tenant_settings FOR EACH ROW EXECUTE FUNCTION public.tg_tenant_settings__webhooks();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _150_feature_guard BEFORE INSERT OR UPDATE OF custom_domain ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg_tenants__feature_guard();
CREATE TRIGGER _200_billing_suspension BEFORE UPDATE ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg_tenants__billing_suspension();
CREATE TRIGGER _700_limits_epoch AFTER UPDATE OF plan ON public.tenants FOR EACH ROW WHEN ((old.plan IS DISTINCT FROM new.plan)) EXECUTE FUNCTION public.tg__limits_epoch();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=tenant', 'tenant=id', 'key=id', 'ignore=created_at,updated_at,template_version', 'group.status=status,+suspended_at,+cancelled_at,+archived_at,+billing_suspended', 'group.plan_changed=plan', 'group.custom_domain.changed=custom_domain,+custom_domain_verified_at', 'group.custom_domain.verified=custom_domain_verified_at', 'group.subscription.updated=stripe_*,subscription_*,billing_*,current_period_*,cancel_at*,past_due*,grace_*,last_payment_at,trial_ends_at', 'group.moved=isolation,+schema_name,+db_role,+database_name,+database_url_env');
CREATE TRIGGER _900_notify AFTER INSERT OR DELETE OR UPDATE ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg_tenants__notify();
CREATE TRIGGER _910_audit_retention AFTER DELETE ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg_tenants__audit_retention();
CREATE TRIGGER _910_stripe_cleanup AFTER DELETE OR UPDATE OF status ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg_tenants__stripe_cleanup();
CREATE TRIGGER _950_hasura_source AFTER UPDATE OF status ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg__hasura_source_follow_status();
CREATE TRIGGER _950_webhooks AFTER UPDATE ON public.tenants FOR EACH ROW EXECUTE FUNCTION public.tg_tenants__webhooks();
CREATE TRIGGER _010_append_only BEFORE DELETE OR UPDATE ON public.usage_events FOR EACH ROW EXECUTE FUNCTION public.tg__append_only();
CREATE TRIGGER _900_audit_correction AFTER INSERT ON public.usage_events FOR EACH ROW WHEN (new.correction) EXECUTE FUNCTION public.tg_usage_events__audit_correction();
CREATE TRIGGER _950_webhooks AFTER INSERT OR UPDATE OF usage ON public.usage_meter_totals FOR EACH ROW EXECUTE FUNCTION public.tg_usage_meter_totals__thresholds();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.webhook_deliveries FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _100_timestamps BEFORE INSERT OR UPDATE ON public.webhook_endpoints FOR EACH ROW EXECUTE FUNCTION public.tg__timestamps();
CREATE TRIGGER _900_audit AFTER INSERT OR DELETE OR UPDATE ON public.webhook_endpoints FOR EACH ROW EXECUTE FUNCTION public.tg__audit('entity=webhook_endpoint', 'tenant=tenant_id', 'key=id', 'ignore=created_at,updated_at,failing_since', 'redact=secret', 'group.disabled=enabled,+disabled_at,+disabled_reason');

------------------------------------------------------------------------------
-- comments
------------------------------------------------------------------------------
comment on schema public is 'standard public schema';
comment on column public.hasura_tenant_sources.synced_version is 'Template version the Hasura metadata of this source reflects; behind tenants.template_version = metadata sync pending';

------------------------------------------------------------------------------
-- grants
------------------------------------------------------------------------------
revoke all on function public.apply_audit_retention(p_now timestamp with time zone) from public;
revoke all on function public.archive_cancelled_tenants(p_older_than interval) from public;
revoke all on function public.attach_move_guard(p_schema name, p_tenant_id uuid) from public;
revoke all on function public.attach_tenant_triggers(p_schema name, p_tenant_id uuid) from public;
revoke all on function public.audit_actor(OUT actor_kind text, OUT actor_id uuid, OUT actor_role text, OUT ip text, OUT user_agent text) from public;
revoke all on function public.audit_append(p_tenant_id uuid, p_action text, p_entity_type text, p_entity_id text, p_old jsonb, p_new jsonb) from public;
revoke all on function public.check_tenant_limits(p_tenant_id uuid) from public;
revoke all on function public.create_invited_identity(p_invitation_id uuid, p_identity_id uuid, p_name text, p_password_hash text) from public;
revoke all on function public.drain_tenant_writers(p_tenant_id uuid) from public;
revoke all on function public.enable_tenant_rls(p_table regclass, p_tenant_column name) from public;
revoke all on function public.end_trial(p_tenant_id uuid, p_now timestamp with time zone, p_action text) from public;
revoke all on function public.expire_invitations() from public;
revoke all on function public.hard_delete_tenant(p_tenant_id uuid) from public;
revoke all on function public.login_lookup(p_tenant_id uuid, p_email text) from public;
revoke all on function public.plan_change_conflicts(p_tenant_id uuid, p_plan text) from public;
revoke all on function public.plan_tenant_has_feature(p_tenant_id uuid, p_plan text, p_feature text) from public;
revoke all on function public.prune_hasura_event_receipts(p_older_than interval) from public;
revoke all on function public.purge_stripe_webhooks(p_older_than interval) from public;
revoke all on function public.queue_platform_job(p_task text, p_payload jsonb, p_job_key text) from public;
revoke all on function public.record_template_upgrade(p_version bigint, p_tenants uuid[]) from public;
revoke all on function public.recount_tenant_counters(p_schema name, p_tenant_id uuid) from public;
revoke all on function public.require_feature(p_tenant_id uuid, p_plan text, p_feature text) from public;
revoke all on function public.secure_tenant_schema(p_schema name, p_role name) from public;
revoke all on function public.suspend_past_due_tenants(p_now timestamp with time zone) from public;
revoke all on function public.tenant_counters_add(p_tenant_id uuid, p_shard smallint, p_users bigint, p_channels bigint, p_storage bigint, p_files bigint) from public;
revoke all on function public.tenant_counters_lock(p_tenant_id uuid) from public;
revoke all on function public.tenant_counters_open_period(p_tenant_id uuid, p_period text) from public;
revoke all on function public.tenant_counters_recount(p_schema name, p_tenant_id uuid) from public;
revoke all on function public.tenant_counters_set(p_tenant_id uuid, p_users bigint, p_channels bigint, p_storage bigint, p_files bigint) from public;
revoke all on function public.tenant_effective_limits(p_tenant_id uuid) from public;
revoke all on function public.tenant_features(p_tenant_id uuid) from public;
revoke all on function public.tenant_has_feature(p_tenant_id uuid, p_feature text) from public;
revoke all on function public.tenant_limit_report(p_tenant_id uuid, p_period text) from public;
revoke all on function public.tenant_limit_trigger_sql(p_schema name, p_table name, p_tenant_id uuid) from public;
revoke all on function public.tenant_meter_cap(p_tenant_id uuid, p_meter_id text) from public;
revoke all on function public.tenant_quota_take(p_tenant_id uuid, p_shard smallint, p_limit text, p_amount bigint, p_period text) from public;
revoke all on function public.tg__audit() from public;
revoke all on function public.tg__limits() from public;
revoke all on function public.tg__limits_epoch() from public;
revoke all on function public.tg__move_guard() from public;
revoke all on function public.tg__usage() from public;
revoke all on function public.tg__usage_flush() from public;
revoke all on function public.tg_memberships__rules() from public;
revoke all on function public.tg_memberships__webhooks() from public;
revoke all on function public.tg_plans__audit() from public;
revoke all on function public.tg_tenant_invitations__webhooks() from public;
revoke all on function public.tg_tenant_settings__webhooks() from public;
revoke all on function public.tg_tenants__audit_retention() from public;
revoke all on function public.tg_tenants__stripe_cleanup() from public;
revoke all on function public.tg_tenants__webhooks() from public;
revoke all on function public.tg_usage_events__audit_correction() from public;
revoke all on function public.tg_usage_meter_totals__thresholds() from public;
revoke all on function public.trials_due(p_now timestamp with time zone) from public;
revoke all on function public.verify_audit_chain(p_tenant_id uuid) from public;
revoke all on function public.webhook_emit(p_tenant_id uuid, p_type text, p_data jsonb) from public;
grant usage on schema pooled to app;
grant usage on schema pooled to hasura;
grant usage on schema public to app;
grant usage on schema public to hasura;
grant usage on schema public to public;
grant delete, select on table pooled.channels to app;
grant delete, select on table pooled.channels to hasura;
grant update (name, is_private, created_by) on table pooled.channels to app;
grant update (name, is_private, created_by) on table pooled.channels to hasura;
grant insert (tenant_id, id, name, is_private, created_by) on table pooled.channels to app;
grant insert (tenant_id, name, is_private, created_by) on table pooled.channels to hasura;
grant delete, select on table pooled.files to app;
grant delete, select on table pooled.files to hasura;
grant update (channel_id, member_id, name, content_type, size_bytes) on table pooled.files to app;
grant update (channel_id, member_id, name, content_type, size_bytes) on table pooled.files to hasura;
grant insert (tenant_id, channel_id, member_id, name, content_type, size_bytes) on table pooled.files to hasura;
grant insert (tenant_id, id, channel_id, member_id, name, content_type, size_bytes) on table pooled.files to app;
grant delete, select on table pooled.members to app;
grant delete, select on table pooled.members to hasura;
grant update (identity_id, display_name, email) on table pooled.members to app;
grant update (identity_id, display_name, email) on table pooled.members to hasura;
grant insert (tenant_id, id, identity_id, display_name, email) on table pooled.members to app;
grant insert (tenant_id, identity_id, display_name, email) on table pooled.members to hasura;
grant delete, select on table pooled.messages to app;
grant delete, select on table pooled.messages to hasura;
grant update (channel_id, member_id, body) on table pooled.messages to app;
grant update (channel_id, member_id, body) on table pooled.messages to hasura;
grant insert (tenant_id, channel_id, member_id, body) on table pooled.messages to hasura;
grant insert (tenant_id, id, channel_id, member_id, body) on table pooled.messages to app;
grant insert, select on table public.analytics_events to app;
grant select on table public.analytics_events to hasura;
grant insert, select on table public.connector_events to app;
grant select on table public.connector_events to hasura;
grant select (id, email, name, is_platform_admin, created_at, updated_at, email_verified_at) on table public.identities to app;
grant select (id, email, name, is_platform_admin, created_at, updated_at, email_verified_at) on table public.identities to hasura;
grant update (name) on table public.identities to app;
grant update (name) on table public.identities to hasura;
grant delete, select on table public.memberships to app;
grant delete, select on table public.memberships to hasura;
grant update (role) on table public.memberships to app;
grant update (role) on table public.memberships to hasura;
grant insert (tenant_id, identity_id, role) on table public.memberships to app;
grant insert (tenant_id, identity_id, role) on table public.memberships to hasura;
grant select on table public.meters to app;
grant select on table public.meters to hasura;
grant select on table public.plan_meters to app;
grant select on table public.plan_meters to hasura;
grant select on table public.plans to app;
grant select on table public.plans to hasura;
grant select on table public.stripe_meter_reports to app;
grant select on table public.tenant_api_calls to app;
grant select on table public.tenant_api_calls to hasura;
grant update (revoked_at, revoked_by) on table public.tenant_api_keys to app;
grant insert (tenant_id, id, name, prefix, key_hash, role, created_by, expires_at) on table public.tenant_api_keys to app;
grant select (tenant_id, id, name, prefix, role, created_by, created_at, expires_at, last_used_at, revoked_at, revoked_by) on table public.tenant_api_keys to app;
grant select on table public.tenant_audit_entries to app;
grant select on table public.tenant_audit_entries to hasura;
grant select on table public.tenant_audit_heads to app;
grant select on table public.tenant_audit_heads to hasura;
grant select on table public.tenant_audit_logs to app;
grant select on table public.tenant_audit_logs to hasura;
grant select on table public.tenant_audit_personal to app;
grant select on table public.tenant_audit_personal to hasura;
grant select on table public.tenant_audit_retention to app;
grant select on table public.tenant_audit_retention to hasura;
grant select on table public.tenant_counter_base to app;
grant select on table public.tenant_counter_base to hasura;
grant select on table public.tenant_counter_shards to app;
grant select on table public.tenant_counter_shards to hasura;
grant select on table public.tenant_counters to app;
grant select on table public.tenant_counters to hasura;
grant update (accepted_at, accepted_by, revoked_at, revoked_by) on table public.tenant_invitations to app;
grant insert (tenant_id, email, role, token_hash, invited_by, expires_at) on table public.tenant_invitations to app;
grant select (tenant_id, id, email, role, invited_by, expires_at, accepted_at, accepted_by, revoked_at, revoked_by, created_at, updated_at) on table public.tenant_invitations to app;
grant select (tenant_id, id, email, role, invited_by, expires_at, accepted_at, accepted_by, revoked_at, revoked_by, created_at, updated_at) on table public.tenant_invitations to hasura;
grant select on table public.tenant_meter_caps to app;
grant select on table public.tenant_meter_caps to hasura;
grant select on table public.tenant_notices to app;
grant select on table public.tenant_notices to hasura;
grant select on table public.tenant_settings to app;
grant select on table public.tenant_settings to hasura;
grant update (settings) on table public.tenant_settings to app;
grant update (settings) on table public.tenant_settings to hasura;
grant select on table public.tenant_usage to app;
grant select on table public.tenant_usage to hasura;
grant select on table public.tenant_usage_counters to app;
grant select on table public.tenant_usage_counters to hasura;
grant select on table public.tenant_usage_history to app;
grant select on table public.tenant_usage_history to hasura;
grant select on table public.tenants to app;
grant select on table public.tenants to hasura;
grant update (name, branding) on table public.tenants to hasura;
grant update (name, custom_domain, branding) on table public.tenants to app;
grant select on table public.usage_events to app;
grant select on table public.usage_events to hasura;
grant insert (tenant_id, id, meter_id, user_id, value, properties, occurred_at, period, idempotency_key, request_hash, correction, reason, actor_id) on table public.usage_events to app;
grant select on table public.usage_meter_totals to app;
grant select on table public.usage_meter_totals to hasura;
grant insert (tenant_id, meter_id, period, usage, value_sum, event_count, value_max, overage) on table public.usage_meter_totals to app;
grant update (usage, value_sum, event_count, value_max, overage, updated_at) on table public.usage_meter_totals to app;
grant select on table public.webhook_deliveries to app;
grant insert (tenant_id, endpoint_id, event_id, event_type, replay_of) on table public.webhook_deliveries to app;
grant select on table public.webhook_delivery_attempts to app;
grant delete on table public.webhook_endpoints to app;
grant select (tenant_id, id, url, description, event_types, enabled, disabled_at, disabled_reason, failing_since, created_by, created_at, updated_at) on table public.webhook_endpoints to app;
grant insert (tenant_id, url, description, event_types, secret, created_by) on table public.webhook_endpoints to app;
grant update (url, description, event_types, enabled, disabled_at, disabled_reason, failing_since) on table public.webhook_endpoints to app;
grant select on table public.webhook_events to app;
grant execute on function public.audit_personal_digest(p_salt bytea, p_data jsonb) to app;
grant execute on function public.audit_personal_digest(p_salt bytea, p_data jsonb) to public;
grant execute on function public.check_tenant_limits(p_tenant_id uuid) to app;
grant execute on function public.check_tenant_limits(p_tenant_id uuid) to hasura;
grant execute on function public.create_invited_identity(p_invitation_id uuid, p_identity_id uuid, p_name text, p_password_hash text) to app;
grant execute on function public.login_lookup(p_tenant_id uuid, p_email text) to app;
grant execute on function public.plan_change_conflicts(p_tenant_id uuid, p_plan text) to app;
grant execute on function public.plan_change_conflicts(p_tenant_id uuid, p_plan text) to hasura;
grant execute on function public.plan_tenant_has_feature(p_tenant_id uuid, p_plan text, p_feature text) to app;
grant execute on function public.plan_tenant_has_feature(p_tenant_id uuid, p_plan text, p_feature text) to hasura;
grant execute on function public.require_feature(p_tenant_id uuid, p_plan text, p_feature text) to app;
grant execute on function public.require_feature(p_tenant_id uuid, p_plan text, p_feature text) to hasura;
grant execute on function public.tenant_effective_limits(p_tenant_id uuid) to app;
grant execute on function public.tenant_effective_limits(p_tenant_id uuid) to hasura;
grant execute on function public.tenant_features(p_tenant_id uuid) to app;
grant execute on function public.tenant_features(p_tenant_id uuid) to hasura;
grant execute on function public.tenant_has_feature(p_tenant_id uuid, p_feature text) to app;
grant execute on function public.tenant_has_feature(p_tenant_id uuid, p_feature text) to hasura;
grant execute on function public.tenant_limit_report(p_tenant_id uuid, p_period text) to app;
grant execute on function public.tenant_limit_report(p_tenant_id uuid, p_period text) to hasura;
grant execute on function public.tenant_meter_cap(p_tenant_id uuid, p_meter_id text) to app;
grant execute on function public.usage_tally(p_setting text) to public;
grant execute on function public.verify_audit_chain(p_tenant_id uuid) to app;
