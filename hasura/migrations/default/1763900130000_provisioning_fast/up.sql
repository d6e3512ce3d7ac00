-- Sign-up runs every trigger and check below once per new tenant, and every
-- CREATE SCHEMA (any tenant's) discards the plans PL/pgSQL cached, so each
-- statement and function call here is analysed and planned again per sign-up.
-- What changes is how much work that is, not what is written.

-- audit_append runs this test on every key of every audited row. A body
-- parsed at creation needs no SET to pin name resolution, and without one the
-- planner inlines it: no function call (and search_path change) per key.
create or replace function public.audit_personal_key(p_key text)
returns boolean
language sql
immutable parallel safe
return p_key like '%email%' or p_key in ('display_name', 'full_name', 'phone', 'person_name');

-- As before, but a side that is not an object (an insert's old values, a
-- delete's new ones) is not scanned for personal keys.
create or replace function public.audit_append(p_tenant_id uuid, p_action text, p_entity_type text, p_entity_id text, p_old jsonb, p_new jsonb)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

-- Called for every entry. Bodies parsed at creation (they use nothing but
-- built-in functions) spare each call a parse and a search_path change; what
-- they compute is unchanged, so existing hashes and digests still verify.
create or replace function public.audit_personal_digest(p_salt bytea, p_data jsonb)
returns text
language sql
immutable parallel safe
return encode(sha256(p_salt || convert_to(p_data::text, 'UTF8')), 'hex');

create or replace function public.audit_redact(p_values jsonb, p_extra text[] default '{}'::text[])
returns jsonb
language sql
immutable parallel safe
begin atomic
  select coalesce(jsonb_object_agg(
    e.key,
    case
      when e.value <> 'null'::jsonb
       and (e.key = any (p_extra)
            or e.key like any (array['%password%', '%secret%', '%token%', '%api\_key%', '%private\_key%']))
      then '"[redacted]"'::jsonb
      else e.value
    end), '{}'::jsonb)
  from jsonb_each(p_values) e;
end;

-- Inlined into the audit trigger's call (the two functions it calls are
-- defined before it).
create or replace function public.audit_redact_for(p_table regclass, p_values jsonb, p_extra text[] default '{}'::text[])
returns jsonb
language sql
stable parallel safe
return public.audit_redact(p_values, p_extra || public.audit_internal_columns(p_table));

create or replace function public.audit_row_hash(r public.tenant_audit_logs)
returns text
language sql
immutable parallel safe
return case when coalesce(r.hash_version, 1) = 1 then
    encode(sha256(convert_to(jsonb_build_array(
      r.tenant_id, r.seq, r.actor_kind, r.actor_id, r.actor_role, r.action, r.entity_type, r.entity_id,
      r.old_values, r.new_values, r.ip, r.user_agent, extract(epoch from r.created_at), r.prev_hash
    )::text, 'UTF8')), 'hex')
  else
    encode(sha256(convert_to(jsonb_build_array(
      2, r.tenant_id, r.seq, r.actor_kind, r.actor_id, r.actor_role, r.action, r.entity_type, r.entity_id,
      r.old_values, r.new_values, extract(epoch from r.created_at), r.personal_digest, r.prev_hash
    )::text, 'UTF8')), 'hex')
  end;

-- Check constraints of every settings row written. A new tenant's row holds
-- the defaults ('{}'), which pass by definition: answered before planning the
-- walk over the document (a query a SQL function's body always plans).
create or replace function public.settings_within_caps(p_settings jsonb)
returns boolean
language plpgsql
immutable parallel safe
set search_path = pg_catalog
as $$
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
$$;

create or replace function public.limit_overrides_valid(p_overrides jsonb)
returns boolean
language plpgsql
immutable parallel safe
set search_path = pg_catalog
as $$
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
$$;

-- Asked twice per sign-up (attaching the triggers, then the recount). A body
-- parsed at creation needs no SET to pin name resolution, so a call costs
-- neither a search_path change nor a parse; one catalog query replaces the
-- nested obj_description (itself a SQL function) for the same comment.
create or replace function public.tenant_owns_schema(p_tenant_id uuid, p_schema name)
returns boolean
language sql
stable
begin atomic
  select exists (
    select 1
    from pg_catalog.pg_namespace n
    join pg_catalog.pg_description d
      on d.objoid = n.oid and d.classoid = 'pg_catalog.pg_namespace'::pg_catalog.regclass and d.objsubid = 0
    where n.nspname = p_schema
      and n.nspname like 'tenant\_%'
      and d.description = 'tenant:' || p_tenant_id::text
  );
end;

-- The counters are set from the tables present in one statement (one parse
-- and plan instead of four).
create or replace function public.recount_tenant_counters(p_schema name, p_tenant_id uuid)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if not public.tenant_owns_schema(p_tenant_id, p_schema) then
    raise exception 'schema % is not owned by tenant %', p_schema, p_tenant_id using errcode = 'SA409';
  end if;
  -- Lock first, count after: concurrent writers either committed before the
  -- count or add themselves to the counters after it.
  perform public.tenant_counters_lock(p_tenant_id);
  execute format(
    'select public.tenant_counters_set($1, %s, %s, f.bytes::bigint, f.n) from %s f',
    case when to_regclass(format('%I.%I', p_schema, 'members')) is null then '0'
         else format('(select count(*) from %I.%I)', p_schema, 'members') end,
    case when to_regclass(format('%I.%I', p_schema, 'channels')) is null then '0'
         else format('(select count(*) from %I.%I)', p_schema, 'channels') end,
    case when to_regclass(format('%I.%I', p_schema, 'files')) is null then '(select 0 as n, 0 as bytes)'
         else format('(select count(*) as n, coalesce(sum(size_bytes), 0) as bytes from %I.%I)', p_schema, 'files') end)
    using p_tenant_id;
end
$$;
