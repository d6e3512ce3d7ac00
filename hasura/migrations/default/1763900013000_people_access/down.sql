-- Undoes 1763900013000_people_access in reverse.
do $$
begin
  if exists (select 1 from public.tenant_audit_logs where actor_kind = 'api_key') then
    raise exception 'audit entries made with API keys exist; they cannot be rewritten (the trail is append-only)';
  end if;
  alter table public.tenant_audit_logs drop constraint if exists tenant_audit_logs_actor_kind_check;
  alter table public.tenant_audit_logs add constraint tenant_audit_logs_actor_kind_check
    check (actor_kind in ('user', 'hasura', 'stripe', 'cron', 'system', 'cli'));
end
$$;
drop trigger if exists _900_audit on public.tenant_api_keys;
drop trigger if exists _200_rules on public.memberships;
drop function if exists public.tg_memberships__rules();
drop table if exists public.outbox;
drop table if exists public.tenant_api_keys;
drop table if exists public.identity_tokens;
drop table if exists public.auth_refresh_tokens;
drop table if exists public.auth_sessions;
alter table public.identities drop column if exists email_verified_at;
