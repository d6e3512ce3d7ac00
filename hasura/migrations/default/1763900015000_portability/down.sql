-- Undoes 1763900015000_portability. Version 2 audit rows cannot be verified by
-- the original functions, so the rollback refuses while any exist.
do $$
begin
  if exists (select 1 from public.tenant_audit_logs where hash_version = 2) then
    raise exception 'audit entries in the version 2 form exist; they would no longer verify after a rollback';
  end if;
end
$$;

drop view if exists public.tenant_audit_entries;
drop trigger if exists _910_audit_retention on public.tenants;
drop function if exists public.tg_tenants__audit_retention();
drop function if exists public.apply_audit_retention(timestamptz);

-- The definitions of 1763900003000_audit_invitations.
create or replace function public.audit_row_hash(r public.tenant_audit_logs) returns text
language sql immutable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
  select encode(sha256(convert_to(jsonb_build_array(
    r.tenant_id, r.seq, r.actor_kind, r.actor_id, r.actor_role, r.action, r.entity_type, r.entity_id,
    r.old_values, r.new_values, r.ip, r.user_agent, extract(epoch from r.created_at), r.prev_hash
  )::text, 'UTF8')), 'hex')
$$;

-- audit_append as before this migration: the actor from audit_actor() (kept).
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

create or replace function public.verify_audit_chain(p_tenant_id uuid)
returns table (ok boolean, broken_seq bigint, checked bigint, reason text)
language plpgsql stable
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_row public.tenant_audit_logs;
  v_expected bigint := 1;
  v_prev text;
  v_head public.tenant_audit_heads;
begin
  for v_row in select * from public.tenant_audit_logs where tenant_id = p_tenant_id order by seq loop
    if v_row.seq <> v_expected then
      return query select false, v_expected, v_expected - 1, format('entry %s is missing', v_expected);
      return;
    end if;
    if v_row.prev_hash is distinct from v_prev then
      return query select false, v_row.seq, v_expected - 1, 'prev_hash does not match the previous entry';
      return;
    end if;
    if v_row.hash is distinct from public.audit_row_hash(v_row) then
      return query select false, v_row.seq, v_expected - 1, 'hash does not match the entry''s content';
      return;
    end if;
    v_prev := v_row.hash;
    v_expected := v_expected + 1;
  end loop;

  select * into v_head from public.tenant_audit_heads where tenant_id = p_tenant_id;
  if coalesce(v_head.seq, 0) > v_expected - 1 then
    return query select false, v_expected, v_expected - 1, format('entry %s is missing', v_expected);
    return;
  end if;
  if coalesce(v_head.seq, 0) < v_expected - 1 or nullif(v_head.hash, '') is distinct from v_prev then
    return query select false, v_expected - 1, v_expected - 1, 'the chain head does not match the last entry';
    return;
  end if;
  return query select true, null::bigint, v_expected - 1, null::text;
end
$$;
revoke all on function public.verify_audit_chain(uuid) from public;

drop function if exists public.audit_personal_digest(bytea, jsonb);
drop function if exists public.audit_personal_key(text);
drop table if exists public.tenant_exports;
drop table if exists public.tenant_audit_retention;
drop table if exists public.tenant_audit_personal;
alter table public.tenant_audit_logs drop constraint if exists tenant_audit_logs_hash_version_check;
alter table public.tenant_audit_logs drop column if exists personal_digest;
alter table public.tenant_audit_logs drop column if exists hash_version;
alter table public.identities drop column if exists erased_at;
alter table public.plans drop column if exists audit_retention_days;
