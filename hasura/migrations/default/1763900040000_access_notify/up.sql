-- Who may act, for the in-process access cache of every actions server
-- (auth/access.ts, ARCHITECTURE.md §8): a change to a membership, a platform
-- administrator flag, a session or an API key sends NOTIFY `access_changed`
-- naming the person or the key prefix, so each process drops what it holds for
-- them at once and access ends within a second. Inserts of sessions are not
-- notified (a new session id was never cached); inserts of keys are (an unknown
-- prefix is cached as unknown). TRUNCATE drops everything.
create or replace function public.tg_access__notify()
returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
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
$$;

drop trigger if exists _950_access_notify on public.memberships;
create trigger _950_access_notify after insert or update of role, tenant_id, identity_id or delete on public.memberships
  for each row execute function public.tg_access__notify();
drop trigger if exists _950_access_notify_truncate on public.memberships;
create trigger _950_access_notify_truncate after truncate on public.memberships
  for each statement execute function public.tg_access__notify();

drop trigger if exists _950_access_notify on public.identities;
create trigger _950_access_notify after update of is_platform_admin or delete on public.identities
  for each row execute function public.tg_access__notify();
drop trigger if exists _950_access_notify_truncate on public.identities;
create trigger _950_access_notify_truncate after truncate on public.identities
  for each statement execute function public.tg_access__notify();

drop trigger if exists _950_access_notify on public.auth_sessions;
create trigger _950_access_notify after update of identity_id, revoked_at, expires_at or delete on public.auth_sessions
  for each row execute function public.tg_access__notify();
drop trigger if exists _950_access_notify_truncate on public.auth_sessions;
create trigger _950_access_notify_truncate after truncate on public.auth_sessions
  for each statement execute function public.tg_access__notify();

drop trigger if exists _950_access_notify on public.tenant_api_keys;
create trigger _950_access_notify after insert or update of tenant_id, prefix, key_hash, role, revoked_at, expires_at or delete
  on public.tenant_api_keys
  for each row execute function public.tg_access__notify();
drop trigger if exists _950_access_notify_truncate on public.tenant_api_keys;
create trigger _950_access_notify_truncate after truncate on public.tenant_api_keys
  for each statement execute function public.tg_access__notify();
