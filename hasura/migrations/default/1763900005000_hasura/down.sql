-- Undo the Hasura layer in reverse. The hasura_tenants role is cluster-wide
-- (other databases on the server may use it), so, like the core roles, it stays.
drop function if exists public.prune_hasura_event_receipts(interval);
drop table if exists public.hasura_tenant_sources;
drop table if exists public.hasura_event_receipts;
