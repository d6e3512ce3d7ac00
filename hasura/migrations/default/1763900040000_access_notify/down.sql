drop trigger if exists _950_access_notify on public.memberships;
drop trigger if exists _950_access_notify_truncate on public.memberships;
drop trigger if exists _950_access_notify on public.identities;
drop trigger if exists _950_access_notify_truncate on public.identities;
drop trigger if exists _950_access_notify on public.auth_sessions;
drop trigger if exists _950_access_notify_truncate on public.auth_sessions;
drop trigger if exists _950_access_notify on public.tenant_api_keys;
drop trigger if exists _950_access_notify_truncate on public.tenant_api_keys;
drop function if exists public.tg_access__notify();
