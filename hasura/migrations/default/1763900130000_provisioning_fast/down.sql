-- The definitions before 1763900130000_provisioning_fast.

CREATE OR REPLACE FUNCTION public.audit_personal_key(p_key text)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select p_key like '%email%' or p_key in ('display_name', 'full_name', 'phone', 'person_name')
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
  v_ip text;
  v_user_agent text;
  v_personal jsonb := '{}'::jsonb;
  v_part jsonb;
  v_emails text[];
  v_salt bytea;
begin
  v_entry.actor_kind := v_actor.actor_kind;
  v_entry.actor_id := v_actor.actor_id;
  v_entry.actor_role := v_actor.actor_role;
  v_ip := v_actor.ip;
  v_user_agent := v_actor.user_agent;

  if v_ip is not null then v_personal := v_personal || jsonb_build_object('ip', v_ip); end if;
  if v_user_agent is not null then v_personal := v_personal || jsonb_build_object('user_agent', v_user_agent); end if;
  select jsonb_object_agg(e.key, e.value) into v_part
    from jsonb_each(case when jsonb_typeof(p_old) = 'object' then p_old else '{}'::jsonb end) e
   where public.audit_personal_key(e.key) and e.value <> 'null'::jsonb;
  if v_part is not null then
    v_personal := v_personal || jsonb_build_object('old', v_part);
    p_old := p_old || (select jsonb_object_agg(k, '"[personal]"'::jsonb) from jsonb_object_keys(v_part) k);
  end if;
  select jsonb_object_agg(e.key, e.value) into v_part
    from jsonb_each(case when jsonb_typeof(p_new) = 'object' then p_new else '{}'::jsonb end) e
   where public.audit_personal_key(e.key) and e.value <> 'null'::jsonb;
  if v_part is not null then
    v_personal := v_personal || jsonb_build_object('new', v_part);
    p_new := p_new || (select jsonb_object_agg(k, '"[personal]"'::jsonb) from jsonb_object_keys(v_part) k);
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

CREATE OR REPLACE FUNCTION public.audit_personal_digest(p_salt bytea, p_data jsonb)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select encode(sha256(p_salt || convert_to(p_data::text, 'UTF8')), 'hex')
$function$;

CREATE OR REPLACE FUNCTION public.audit_redact(p_values jsonb, p_extra text[] DEFAULT '{}'::text[])
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select coalesce(jsonb_object_agg(
    e.key,
    case
      when e.value <> 'null'::jsonb
       and (e.key = any (p_extra)
            or e.key like any (array['%password%', '%secret%', '%token%', '%api\_key%', '%private\_key%']))
      then '"[redacted]"'::jsonb
      else e.value
    end), '{}'::jsonb)
  from jsonb_each(p_values) e
$function$;

CREATE OR REPLACE FUNCTION public.audit_row_hash(r public.tenant_audit_logs)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select case when coalesce(r.hash_version, 1) = 1 then
    encode(sha256(convert_to(jsonb_build_array(
      r.tenant_id, r.seq, r.actor_kind, r.actor_id, r.actor_role, r.action, r.entity_type, r.entity_id,
      r.old_values, r.new_values, r.ip, r.user_agent, extract(epoch from r.created_at), r.prev_hash
    )::text, 'UTF8')), 'hex')
  else
    encode(sha256(convert_to(jsonb_build_array(
      2, r.tenant_id, r.seq, r.actor_kind, r.actor_id, r.actor_role, r.action, r.entity_type, r.entity_id,
      r.old_values, r.new_values, extract(epoch from r.created_at), r.personal_digest, r.prev_hash
    )::text, 'UTF8')), 'hex')
  end
$function$;

CREATE OR REPLACE FUNCTION public.settings_within_caps(p_settings jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog'
AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.limit_overrides_valid(p_overrides jsonb)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog'
AS $function$
  select jsonb_typeof(p_overrides) = 'object' and not exists (
    select 1
    from jsonb_each(p_overrides) as e (key, value)
    where e.key not in ('max_users', 'max_channels', 'max_storage_bytes', 'max_api_calls_month',
                        'rate_limit_per_minute', 'rate_limit_per_hour')
       or jsonb_typeof(e.value) <> 'number'
       or e.value::numeric <> trunc(e.value::numeric)
       or (e.key like 'rate\_limit\_%' and e.value::numeric not between 1 and 2147483647)
       or (e.key like 'max\_%' and e.value::numeric not between -1 and 9223372036854775807)
  )
$function$;

CREATE OR REPLACE FUNCTION public.tenant_owns_schema(p_tenant_id uuid, p_schema name)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select exists (
    select 1 from pg_namespace n
    where n.nspname = p_schema
      and n.nspname like 'tenant\_%'
      and obj_description(n.oid, 'pg_namespace') = 'tenant:' || p_tenant_id::text
  )
$function$;

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

CREATE OR REPLACE FUNCTION public.audit_redact_for(p_table regclass, p_values jsonb, p_extra text[] DEFAULT '{}'::text[])
 RETURNS jsonb
 LANGUAGE sql
 STABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'public', 'pg_temp'
AS $function$
  select public.audit_redact(p_values, p_extra || public.audit_internal_columns(p_table))
$function$;
