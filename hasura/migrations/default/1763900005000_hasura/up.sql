-- Hasura layer: the receipts that make event and cron deliveries idempotent,
-- the registry of per-tenant Hasura sources (what the source cap counts), and
-- the login role those sources connect with. Safe to run twice.

------------------------------------------------------------------------------
-- roles
------------------------------------------------------------------------------
-- Per-tenant Hasura sources log in as this role and switch to the tenant's own
-- role at connection start (libpq `options=-c role=<tenant role>`), so a tenant
-- source reaches only that tenant's schema. NOINHERIT: membership in every
-- tenant role (granted when a tenant is exposed) gives it no privileges of its
-- own, only the right to SET ROLE. Deployments give it LOGIN and a password
-- (docker/initdb.sql); it is cluster-wide, so a duplicate is swallowed.
do $$
begin
  begin
    create role hasura_tenants nologin noinherit nobypassrls;
  exception when duplicate_object or unique_violation then null;
  end;
end
$$;

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
-- One row per Hasura event or cron delivery that was handled. The handler's
-- effect and this row commit in one transaction, so a redelivery (Hasura
-- retries until it sees a 2xx) finds the row and does nothing twice.
create table if not exists public.hasura_event_receipts (
  event_id text primary key check (length(event_id) between 1 and 200),
  kind text not null check (kind in ('event', 'cron')),
  name text not null check (length(name) between 1 and 200),
  received_at timestamptz not null default now()
);

-- Tenants exposed through Hasura as a source of their own. HASURA_MAX_TENANT_SOURCES
-- counts these rows (under a table lock, so concurrent provisioning cannot
-- overshoot the cap); the source name is what hard delete drops.
create table if not exists public.hasura_tenant_sources (
  tenant_id uuid primary key references public.tenants (id) on delete cascade,
  source_name text not null,
  created_at timestamptz not null default now(),
  constraint hasura_tenant_sources_source_name_key unique (source_name)
);

------------------------------------------------------------------------------
-- indexes
------------------------------------------------------------------------------
create index if not exists hasura_event_receipts_received_at_idx on public.hasura_event_receipts (received_at);

------------------------------------------------------------------------------
-- RLS
------------------------------------------------------------------------------
-- Both tables are platform bookkeeping written by the actions server as the
-- owner: app and hasura get no grants (below), so they see nothing.
alter table public.hasura_event_receipts enable row level security;
alter table public.hasura_event_receipts force row level security;
select public.enable_tenant_rls('public.hasura_tenant_sources');

------------------------------------------------------------------------------
-- functions
------------------------------------------------------------------------------
-- Receipts are only needed while Hasura may still redeliver (retries, cron
-- tolerance: hours); the pruning cron job removes older ones. Returns how many.
create or replace function public.prune_hasura_event_receipts(p_older_than interval default interval '30 days')
returns integer
language sql
set search_path = pg_catalog, public, pg_temp
as $$
  with pruned as (
    delete from public.hasura_event_receipts where received_at < now() - p_older_than returning 1
  )
  select count(*)::integer from pruned
$$;
revoke all on function public.prune_hasura_event_receipts(interval) from public;

------------------------------------------------------------------------------
-- grants
------------------------------------------------------------------------------
revoke all on public.hasura_event_receipts from public, app, hasura;
revoke all on public.hasura_tenant_sources from public, app, hasura;
