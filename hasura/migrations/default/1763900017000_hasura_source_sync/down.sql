-- Undoes 1763900017000_hasura_source_sync. Moves of a database tenant to
-- another server cannot be expressed by the older constraint: those records go.
delete from public.tenant_moves where from_isolation = to_isolation and finished_at is not null;
alter table public.tenant_moves drop constraint if exists tenant_moves_changes_tier;
alter table public.tenant_moves add constraint tenant_moves_changes_tier check (from_isolation <> to_isolation);
drop trigger if exists _950_hasura_source on public.tenants;
drop function if exists public.tg__hasura_source_follow_status();
alter table public.hasura_tenant_sources drop column if exists synced_version;
