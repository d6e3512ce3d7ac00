-- Data portability: tenant exports, a person's erasure, audit retention.
--   * Audit rows keep personal data (the actor's ip and user agent, e-mail
--     addresses in the changed values) out of their hashed part: it goes to
--     tenant_audit_personal, and the row's hash covers only a salted digest of
--     it. Erasing a person deletes their side rows; no audit row is rewritten
--     and every chain still verifies. Rows written before this migration
--     (hash_version 1) keep their original form and hash.
--   * plans.audit_retention_days: a scheduled job removes older entries and
--     records the last removed entry in tenant_audit_retention, from which
--     verify_audit_chain starts. A hard-deleted tenant's rows keep the
--     retention its plan had.
--   * tenant_exports: export jobs and their archives.
-- Safe to run twice.

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
do $$
begin
  if not exists (select 1 from information_schema.columns
                  where table_schema = 'public' and table_name = 'plans' and column_name = 'audit_retention_days') then
    alter table public.plans add column audit_retention_days integer not null default 365
      constraint plans_audit_retention_days_positive check (audit_retention_days > 0);
    -- Only when the column is new: a rerun keeps an operator's values.
    update public.plans set audit_retention_days = case id when 'free' then 30 when 'pro' then 90 else 365 end;
  end if;
end
$$;

-- Set when the person was erased (their identity row is kept, pseudonymised,
-- so foreign keys and audit actor ids stay valid).
alter table public.identities add column if not exists erased_at timestamptz;

-- 1: the original hash (every column); 2: personal data only as personal_digest.
alter table public.tenant_audit_logs add column if not exists hash_version smallint not null default 1;
alter table public.tenant_audit_logs add column if not exists personal_digest text;
alter table public.tenant_audit_logs drop constraint if exists tenant_audit_logs_hash_version_check;
alter table public.tenant_audit_logs
  add constraint tenant_audit_logs_hash_version_check check (hash_version in (1, 2));

-- The personal part of an audit entry: {"ip", "user_agent", "old": {...}, "new": {...}}.
-- personal_digest = sha256(salt || data::text); the salt keeps a digest from
-- being matched against guessed addresses once the data is gone.
create table if not exists public.tenant_audit_personal (
  tenant_id uuid not null,
  seq bigint not null,
  -- Whose data this is: the actor, and the addresses the values name.
  subject_ids uuid[] not null default '{}',
  emails text[] not null default '{}',
  data jsonb not null check (jsonb_typeof(data) = 'object'),
  salt bytea not null,
  primary key (tenant_id, seq)
);
create index if not exists tenant_audit_personal_subject_ids_idx on public.tenant_audit_personal using gin (subject_ids);
create index if not exists tenant_audit_personal_emails_idx on public.tenant_audit_personal using gin (emails);

-- Per tenant chain: the last entry removed by retention (verification starts
-- after it) and, once the tenant is hard-deleted, the retention its plan had.
create table if not exists public.tenant_audit_retention (
  tenant_id uuid primary key,
  checkpoint_seq bigint not null default 0,
  checkpoint_hash text,
  retention_days integer check (retention_days > 0),
  tenant_deleted_at timestamptz,
  updated_at timestamptz not null default now()
);

create table if not exists public.tenant_exports (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  status text not null default 'pending' check (status in ('pending', 'running', 'done', 'failed')),
  requested_by uuid,
  -- The archive's file name inside EXPORT_DIR, its size and sha256.
  file_name text,
  size_bytes bigint,
  sha256 text,
  manifest jsonb,
  error text,
  created_at timestamptz not null default now(),
  finished_at timestamptz,
  -- The archive is deleted after this.
  expires_at timestamptz,
  primary key (tenant_id, id)
);
create index if not exists tenant_exports_expires_at_idx on public.tenant_exports (expires_at) where file_name is not null;

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
select public.enable_tenant_rls('public.tenant_audit_personal');
select public.enable_tenant_rls('public.tenant_audit_retention');
select public.enable_tenant_rls('public.tenant_exports');

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- Redefined: version 2 rows hash a digest of their personal part instead of
-- ip, user_agent and personal values; version 1 rows as before.
create or replace function public.audit_row_hash(r public.tenant_audit_logs) returns text
language sql immutable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

-- Keys of audited values that hold personal data (e-mail addresses, names of
-- people); their values go to tenant_audit_personal.
create or replace function public.audit_personal_key(p_key text) returns boolean
language sql immutable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
  select p_key like '%email%' or p_key in ('display_name', 'full_name', 'phone', 'person_name')
$$;

create or replace function public.audit_personal_digest(p_salt bytea, p_data jsonb) returns text
language sql immutable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
  select encode(sha256(p_salt || convert_to(p_data::text, 'UTF8')), 'hex')
$$;

-- Who wrote, as the trail records it. Defined here only when no earlier
-- migration did (a later definition elsewhere wins): the actor from Hasura's
-- session when present, else what the actions server set for the transaction.
do $do$
begin
  if to_regprocedure('public.audit_actor()') is null then
    execute $fn$
      create function public.audit_actor(
        out actor_kind text, out actor_id uuid, out actor_role text, out ip text, out user_agent text
      )
      language plpgsql stable
      set search_path = pg_catalog, public, pg_temp
      as $$
      declare
        v_session jsonb := public.hasura_session();
        v_uuid_re constant text := '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
      begin
        if v_session is not null then
          actor_id := case when v_session ->> 'x-hasura-user-id' ~ v_uuid_re then (v_session ->> 'x-hasura-user-id')::uuid end;
          actor_role := v_session ->> 'x-hasura-role';
          actor_kind := case when actor_id is null then 'hasura' else 'user' end;
        else
          actor_id := public.current_user_id();
          actor_kind := coalesce(nullif(current_setting('app.actor', true), ''), case when actor_id is null then 'system' else 'user' end);
          ip := nullif(current_setting('app.ip', true), '');
          user_agent := nullif(current_setting('app.user_agent', true), '');
        end if;
      end
      $$
    $fn$;
    execute 'revoke all on function public.audit_actor() from public';
  end if;
end
$do$;

-- Redefined (the actor as audit_actor() says, as before): the same entry, but its
-- personal data (ip, user agent, personal values) is stored beside it in
-- tenant_audit_personal, the values keeping "[personal]" in its place, and
-- only the data's salted digest is hashed (hash_version 2).
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
$$;
revoke all on function public.audit_append(uuid, text, text, text, jsonb, jsonb) from public;

-- Redefined from 1763900003000_audit_invitations: starts after the retention
-- checkpoint (the last entry removed by retention), and checks a version 2
-- entry's personal data against its digest while that data exists (erased
-- data is simply absent).
create or replace function public.verify_audit_chain(p_tenant_id uuid)
returns table (ok boolean, broken_seq bigint, checked bigint, reason text)
language plpgsql stable
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;
revoke all on function public.verify_audit_chain(uuid) from public;

-- Removes audit entries older than the retention of each chain (the tenant's
-- plan, or the retention recorded when it was hard-deleted), oldest first and
-- without gaps, and records the last removed entry as the chain's checkpoint.
-- A hard-deleted tenant whose entries are all gone loses its head and
-- checkpoint too. Runs as the owner (the append-only guard lets only it
-- delete). Returns the number of entries removed.
create or replace function public.apply_audit_retention(p_now timestamptz default now())
returns bigint
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;
revoke all on function public.apply_audit_retention(timestamptz) from public;

-- A hard-deleted tenant's chain keeps the retention its plan had.
create or replace function public.tg_tenants__audit_retention() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
begin
  insert into public.tenant_audit_retention (tenant_id, retention_days, tenant_deleted_at)
  values (old.id, (select p.audit_retention_days from public.plans p where p.id = old.plan), now())
  on conflict (tenant_id) do update
    set retention_days = excluded.retention_days, tenant_deleted_at = excluded.tenant_deleted_at, updated_at = now();
  return null;
end
$$;
revoke all on function public.tg_tenants__audit_retention() from public;

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
drop trigger if exists _910_audit_retention on public.tenants;
create trigger _910_audit_retention after delete on public.tenants
  for each row execute function public.tg_tenants__audit_retention();

drop trigger if exists _100_timestamps on public.tenant_audit_retention;
create trigger _100_timestamps before insert or update on public.tenant_audit_retention
  for each row execute function public.tg__timestamps();

------------------------------------------------------------------------------
-- views
------------------------------------------------------------------------------
-- The trail as readers see it: each entry with its personal part put back
-- (while it exists; once erased the values keep "[personal]").
create or replace view public.tenant_audit_entries with (security_invoker = true) as
select l.tenant_id, l.seq, l.actor_kind, l.actor_id, l.actor_role, l.action, l.entity_type, l.entity_id,
       case when l.old_values is null then null else l.old_values || coalesce(p.data -> 'old', '{}'::jsonb) end as old_values,
       case when l.new_values is null then null else l.new_values || coalesce(p.data -> 'new', '{}'::jsonb) end as new_values,
       coalesce(l.ip, p.data ->> 'ip') as ip,
       coalesce(l.user_agent, p.data ->> 'user_agent') as user_agent,
       l.created_at, l.prev_hash, l.hash, l.hash_version, l.personal_digest
  from public.tenant_audit_logs l
  left join public.tenant_audit_personal p on p.tenant_id = l.tenant_id and p.seq = l.seq;

------------------------------------------------------------------------------
-- grants
------------------------------------------------------------------------------
-- Members who may read the trail read its personal part too (their own tenant's, under RLS).
grant select on public.tenant_audit_personal to app, hasura;
grant select on public.tenant_audit_retention to app, hasura;
grant execute on function public.audit_personal_digest(bytea, jsonb) to app;
grant select on public.tenant_audit_entries to app, hasura;
