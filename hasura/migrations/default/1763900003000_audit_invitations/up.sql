-- Audit trail and invitations. Every change to the tenant registry (tenants,
-- memberships, tenant_settings, tenant_invitations) is written by a PostgreSQL
-- trigger into an append-only, per-tenant hash chain in the same transaction,
-- so writes straight through Hasura are audited too. Invitations carry only the
-- sha256 of their token. Safe to run twice.

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
-- No foreign key to tenants: the trail outlives a hard-deleted tenant (its
-- deletion is the last entry of its chain). Rows are never updated or deleted
-- except by the migration owner (see the append-only guard below).
create table if not exists public.tenant_audit_logs (
  tenant_id uuid not null,
  -- 1, 2, 3, ... per tenant, without gaps; verify_audit_chain relies on it.
  seq bigint not null check (seq > 0),
  -- 'user' (actor_id set), 'hasura' (a Hasura session without a user, e.g. the
  -- console), or a system actor named by the actions server.
  actor_kind text not null check (actor_kind in ('user', 'hasura', 'stripe', 'cron', 'system', 'cli')),
  actor_id uuid,
  -- x-hasura-role of the session that made the change (null outside Hasura).
  actor_role text,
  action text not null check (action ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  entity_type text not null,
  entity_id text,
  -- Only the changed columns of an update; the whole row (secrets redacted)
  -- for an insert or delete.
  old_values jsonb,
  new_values jsonb,
  ip text,
  user_agent text,
  created_at timestamptz not null default clock_timestamp(),
  -- Hex sha256 of the previous row of the same tenant (null for seq 1), and of
  -- this row's content including prev_hash (public.audit_row_hash).
  prev_hash text,
  hash text not null,
  primary key (tenant_id, seq)
);

-- The head of each tenant's chain. Writers lock it (FOR UPDATE) so concurrent
-- changes of one tenant append one after another and cannot fork the chain; it
-- also lets verify_audit_chain notice rows missing from the end.
create table if not exists public.tenant_audit_heads (
  tenant_id uuid primary key,
  seq bigint not null,
  hash text not null
);

create table if not exists public.tenant_invitations (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email text not null,
  role text not null check (role in ('admin', 'member')),
  -- sha256 of the token; the token itself is shown once, at creation.
  token_hash bytea not null check (length(token_hash) = 32),
  invited_by uuid not null references public.identities (id) on delete cascade,
  expires_at timestamptz not null,
  -- Historical facts, like audit rows: no foreign keys.
  accepted_at timestamptz,
  accepted_by uuid,
  revoked_at timestamptz,
  revoked_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id),
  constraint tenant_invitations_token_hash_key unique (tenant_id, token_hash),
  constraint tenant_invitations_email_format check (email = lower(email) and email ~ '^[^@\s]+@[^@\s]+$'),
  constraint tenant_invitations_single_outcome check (accepted_at is null or revoked_at is null)
);

------------------------------------------------------------------------------
-- indexes
------------------------------------------------------------------------------
create index if not exists tenant_audit_logs_action_idx on public.tenant_audit_logs (tenant_id, action, seq);
create index if not exists tenant_audit_logs_created_at_idx on public.tenant_audit_logs (tenant_id, created_at);
-- One open invitation per address and tenant; inviting again replaces it.
create unique index if not exists tenant_invitations_pending_email_key
  on public.tenant_invitations (tenant_id, email) where accepted_at is null and revoked_at is null;
-- Accepting looks a token up before it knows the tenant (to tell "wrong host"
-- from "no such invitation").
create index if not exists tenant_invitations_token_hash_idx on public.tenant_invitations (token_hash);
create index if not exists tenant_invitations_expires_at_idx on public.tenant_invitations (expires_at)
  where accepted_at is null;

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
-- app and hasura may read their tenant's rows; grants below give no writes.
select public.enable_tenant_rls('public.tenant_audit_logs');
select public.enable_tenant_rls('public.tenant_audit_heads');
select public.enable_tenant_rls('public.tenant_invitations');

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- The content a row's hash covers, in a form that does not depend on session
-- settings (created_at as epoch seconds, jsonb in its canonical text form).
create or replace function public.audit_row_hash(r public.tenant_audit_logs) returns text
language sql immutable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
  select encode(sha256(convert_to(jsonb_build_array(
    r.tenant_id, r.seq, r.actor_kind, r.actor_id, r.actor_role, r.action, r.entity_type, r.entity_id,
    r.old_values, r.new_values, r.ip, r.user_agent, extract(epoch from r.created_at), r.prev_hash
  )::text, 'UTF8')), 'hex')
$$;

-- Replaces the values of secret-looking columns (and of the columns named in
-- p_extra) with "[redacted]"; a change to them stays visible, its value not.
create or replace function public.audit_redact(p_values jsonb, p_extra text[] default '{}') returns jsonb
language sql immutable parallel safe
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

-- Appends one entry to a tenant's chain. The actor comes from Hasura's session
-- (hasura.user, set in Hasura mutations) when present, else from what the
-- actions server set for the transaction (app.actor, app.user_id, app.ip,
-- app.user_agent; see actions-server/src/db/tx.ts). Internal: called by
-- tg__audit only.
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

-- Generic audit trigger (AFTER INSERT/UPDATE/DELETE, FOR EACH ROW). Its
-- configuration is TG_ARGV, one 'key=value' per argument:
--   entity=<type>          entity_type, and the prefix of actions ('<type>.<verb>')
--   tenant=<column>        the column holding the tenant id (pooled/registry tables)
--   tenant_id=<uuid>       or the tenant id itself (a table in a tenant's own schema)
--   key=<column>           entity_id
--   ignore=<c1,c2>         columns whose changes are not audited (updated_at, ...)
--   redact=<c1,c2>         columns redacted besides the secret-looking ones
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

-- The trail is append-only: UPDATE, DELETE and TRUNCATE are refused for every
-- role but the table's owner (the migration owner). app and hasura hold no
-- such privileges in the first place (42501); this guard (SA403) covers any
-- other role that is ever granted them.
create or replace function public.tg__append_only() returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  if current_user is distinct from (select pg_get_userbyid(c.relowner) from pg_class c where c.oid = tg_relid) then
    raise exception '% is append-only: % refused', tg_relid::regclass, lower(tg_op)
      using errcode = 'SA403',
            hint = 'Audit entries are never changed; only the migration owner may repair the table.';
  end if;
  return case tg_op when 'DELETE' then old else new end;
end
$$;

-- Reports the first entry of a tenant's chain that does not check out: a
-- missing seq, a prev_hash that is not the previous row's hash, a hash that
-- does not match the row's content, or a head that points past the last row.
-- Runs with the caller's rights, so app sees only its own tenant's chain.
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

-- Accepting an invitation may create the invited person's identity, which app
-- cannot do on its own: this creates exactly the identity the open invitation
-- of the current tenant (app.tenant_id) names, nothing else.
-- SQLSTATE SA404: no such open invitation in this tenant.
create or replace function public.create_invited_identity(
  p_invitation_id uuid, p_identity_id uuid, p_name text, p_password_hash text
) returns uuid
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;
revoke all on function public.create_invited_identity(uuid, uuid, text, text) from public;

-- Cron cleanup: invitations past their expiry that were never accepted are
-- deleted (each deletion is audited). Returns how many.
create or replace function public.expire_invitations() returns integer
language sql
set search_path = pg_catalog, public, pg_temp
as $$
  with gone as (
    delete from public.tenant_invitations where expires_at < now() and accepted_at is null returning 1
  )
  select count(*)::integer from gone
$$;
revoke all on function public.expire_invitations() from public;

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
drop trigger if exists _010_append_only on public.tenant_audit_logs;
create trigger _010_append_only before update or delete on public.tenant_audit_logs
  for each row execute function public.tg__append_only();
drop trigger if exists _010_append_only_truncate on public.tenant_audit_logs;
create trigger _010_append_only_truncate before truncate on public.tenant_audit_logs
  for each statement execute function public.tg__append_only();

drop trigger if exists _100_timestamps on public.tenant_invitations;
create trigger _100_timestamps before insert or update on public.tenant_invitations
  for each row execute function public.tg__timestamps();

drop trigger if exists _900_audit on public.tenants;
create trigger _900_audit after insert or update or delete on public.tenants
  for each row execute function public.tg__audit(
    'entity=tenant', 'tenant=id', 'key=id', 'ignore=created_at,updated_at',
    'group.status=status,+suspended_at,+cancelled_at,+archived_at,+billing_suspended',
    'group.plan_changed=plan',
    'group.custom_domain.changed=custom_domain,+custom_domain_verified_at',
    'group.custom_domain.verified=custom_domain_verified_at',
    'group.subscription.updated=stripe_*,subscription_*,billing_*,current_period_*,cancel_at*,past_due*,grace_*,last_payment_at,trial_ends_at',
    'group.template_upgraded=template_version');

drop trigger if exists _900_audit on public.memberships;
create trigger _900_audit after insert or update or delete on public.memberships
  for each row execute function public.tg__audit(
    'entity=membership', 'tenant=tenant_id', 'key=identity_id', 'ignore=created_at,updated_at',
    'insert=added', 'delete=removed', 'group.role_changed=role');

drop trigger if exists _900_audit on public.tenant_settings;
create trigger _900_audit after insert or update or delete on public.tenant_settings
  for each row execute function public.tg__audit(
    'entity=settings', 'tenant=tenant_id', 'key=tenant_id', 'ignore=updated_at',
    'group.features.updated=features', 'group.settings.updated=settings');

drop trigger if exists _900_audit on public.tenant_invitations;
create trigger _900_audit after insert or update or delete on public.tenant_invitations
  for each row execute function public.tg__audit(
    'entity=invitation', 'tenant=tenant_id', 'key=id', 'ignore=created_at,updated_at', 'redact=token_hash',
    'group.accepted=accepted_at,+accepted_by', 'group.revoked=revoked_at,+revoked_by');

------------------------------------------------------------------------------
-- grants (policies above decide the rows; these decide the columns)
------------------------------------------------------------------------------
grant select on public.tenant_audit_logs to app, hasura;
grant select on public.tenant_audit_heads to app, hasura;
grant execute on function public.verify_audit_chain(uuid) to app;

-- token_hash is readable by nobody but the owner; lookups by token run as the owner.
grant select (tenant_id, id, email, role, invited_by, expires_at, accepted_at, accepted_by,
              revoked_at, revoked_by, created_at, updated_at) on public.tenant_invitations to app, hasura;
grant insert (tenant_id, email, role, token_hash, invited_by, expires_at) on public.tenant_invitations to app;
grant update (accepted_at, accepted_by, revoked_at, revoked_by) on public.tenant_invitations to app;
grant execute on function public.create_invited_identity(uuid, uuid, text, text) to app;
