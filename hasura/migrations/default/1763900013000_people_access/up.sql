-- People and access: who may change a membership (one rule for REST, Hasura and
-- SQL, enforced here), sessions with rotating refresh tokens, single-use tokens
-- mailed to a person (password reset, email verification), per-tenant API
-- keys, and the outbox that holds mail when no SMTP server is configured.
-- Safe to run twice.

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
alter table public.identities add column if not exists email_verified_at timestamptz;

-- A signed-in session: one per login (or sign-up, or accepted invitation). Its
-- refresh tokens form one family; access tokens carry the session id, so
-- revoking the row ends every token of the session at once. Global bookkeeping
-- keyed by identity (a platform admin's session has no tenant), read and
-- written by the actions server as the owner only.
create table if not exists public.auth_sessions (
  id uuid primary key default gen_random_uuid(),
  identity_id uuid not null references public.identities (id) on delete cascade,
  -- The tenant the session is scoped to (null: the platform host).
  scope_tenant_id uuid references public.tenants (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member', 'platform_admin')),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoke_reason text check (revoke_reason in ('logout', 'logout_all', 'refresh_reuse', 'password_changed', 'password_reset', 'membership_ended')),
  user_agent text,
  ip text
);

-- Refresh tokens: stored as sha256, single use. Presenting one that was already
-- used revokes its whole session (family), since only a thief and the rightful
-- holder can both hold it.
create table if not exists public.auth_refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.auth_sessions (id) on delete cascade,
  token_hash bytea not null,
  created_at timestamptz not null default now(),
  used_at timestamptz,
  constraint auth_refresh_tokens_token_hash_key unique (token_hash)
);

-- Single-use tokens mailed to a person: password reset (1 hour) and email
-- verification. Only the sha256 is stored; the tenant (if any) decides the
-- link's address and the mail's branding.
create table if not exists public.identity_tokens (
  id uuid primary key default gen_random_uuid(),
  identity_id uuid not null references public.identities (id) on delete cascade,
  purpose text not null check (purpose in ('password_reset', 'email_verification')),
  token_hash bytea not null,
  context_tenant_id uuid references public.tenants (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  constraint identity_tokens_token_hash_key unique (token_hash)
);

-- API keys of a tenant: `<prefix>.<secret>`, the prefix shown in listings, only
-- the sha256 of the whole key stored. Role member or admin (tenant_admin in
-- Hasura), optional expiry, last use recorded, revocation immediate.
create table if not exists public.tenant_api_keys (
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 100),
  prefix text not null check (prefix ~ '^sk_[a-z0-9]{12}$'),
  key_hash bytea not null,
  role text not null check (role in ('admin', 'member')),
  created_by uuid references public.identities (id) on delete restrict,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  last_used_at timestamptz,
  revoked_at timestamptz,
  revoked_by uuid references public.identities (id) on delete restrict,
  primary key (tenant_id, id)
);

-- Mail that had nowhere to go (no SMTP_URL): development reads it here.
create table if not exists public.outbox (
  id uuid primary key default gen_random_uuid(),
  template text not null,
  recipient text not null,
  subject text not null,
  text_body text not null,
  html_body text not null,
  context_tenant_id uuid references public.tenants (id) on delete cascade,
  created_at timestamptz not null default now()
);

------------------------------------------------------------------------------
-- indexes
------------------------------------------------------------------------------
create index if not exists auth_sessions_identity_id_idx on public.auth_sessions (identity_id);
create index if not exists auth_sessions_scope_tenant_id_idx on public.auth_sessions (scope_tenant_id);
create index if not exists auth_refresh_tokens_session_id_idx on public.auth_refresh_tokens (session_id);
create index if not exists identity_tokens_identity_id_idx on public.identity_tokens (identity_id);
create index if not exists identity_tokens_context_tenant_id_idx on public.identity_tokens (context_tenant_id);
create index if not exists tenant_api_keys_prefix_idx on public.tenant_api_keys (prefix);
create index if not exists outbox_created_at_idx on public.outbox (created_at);
create index if not exists outbox_context_tenant_id_idx on public.outbox (context_tenant_id);

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
-- Sessions, tokens and the outbox are the owner's alone (no grants below).
alter table public.auth_sessions enable row level security;
alter table public.auth_sessions force row level security;
alter table public.auth_refresh_tokens enable row level security;
alter table public.auth_refresh_tokens force row level security;
alter table public.identity_tokens enable row level security;
alter table public.identity_tokens force row level security;
alter table public.outbox enable row level security;
alter table public.outbox force row level security;
select public.enable_tenant_rls('public.tenant_api_keys');

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- The membership rule, for every path that writes memberships:
--   owners manage owners, admins and members;
--   admins manage members only (remove them; they make no admins or owners);
--   members manage nobody; anyone may leave (delete their own row);
--   a person joins (insert) only with an open invitation to their address for
--   that role, unless an owner (or admin, for members) adds them;
--   nobody removes or demotes the last owner (SA409).
-- The acting role is the caller's CURRENT role in the database (a token or a
-- session may be older than a demotion), capped by the Hasura session's role.
-- Request roles are judged by it: `app` (the actions server, acting for
-- app.user_id) and `hasura` with a session (GraphQL mutations); Hasura's
-- `admin` (the console, admin secret) and the migration owner (provisioning,
-- operators) are trusted, and only the last-owner rule applies to them.
create or replace function public.tg_memberships__rules() returns trigger
language plpgsql security definer
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;
revoke all on function public.tg_memberships__rules() from public;

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
drop trigger if exists _200_rules on public.memberships;
create trigger _200_rules before insert or update or delete on public.memberships
  for each row execute function public.tg_memberships__rules();

drop trigger if exists _100_timestamps on public.tenant_api_keys;
drop trigger if exists _900_audit on public.tenant_api_keys;
create trigger _900_audit after insert or update or delete on public.tenant_api_keys
  for each row execute function public.tg__audit(
    'entity=api_key', 'tenant=tenant_id', 'key=id', 'ignore=last_used_at', 'redact=key_hash',
    'group.revoked=revoked_at,+revoked_by');

------------------------------------------------------------------------------
-- grants
------------------------------------------------------------------------------
revoke all on public.auth_sessions, public.auth_refresh_tokens, public.identity_tokens, public.outbox
  from public, app, hasura;
revoke all on public.tenant_api_keys from public, app, hasura;
grant select (tenant_id, id, name, prefix, role, created_by, created_at, expires_at, last_used_at, revoked_at, revoked_by)
  on public.tenant_api_keys to app;
grant insert (tenant_id, id, name, prefix, key_hash, role, created_by, expires_at) on public.tenant_api_keys to app;
grant update (revoked_at, revoked_by) on public.tenant_api_keys to app;
grant select (email_verified_at) on public.identities to app, hasura;

-- Writes made with an API key are recorded as such in the audit trail.
do $$
begin
  alter table public.tenant_audit_logs drop constraint if exists tenant_audit_logs_actor_kind_check;
  alter table public.tenant_audit_logs add constraint tenant_audit_logs_actor_kind_check
    check (actor_kind in ('user', 'hasura', 'stripe', 'cron', 'system', 'cli', 'api_key'));
end
$$;
