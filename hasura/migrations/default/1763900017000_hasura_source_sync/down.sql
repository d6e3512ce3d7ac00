-- Undoes 1763900017000_hasura_source_sync.
drop trigger if exists _950_hasura_source on public.tenants;
drop function if exists public.tg__hasura_source_follow_status();
alter table public.hasura_tenant_sources drop column if exists synced_version;
