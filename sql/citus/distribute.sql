-- Scaling out with Citus (ARCHITECTURE.md §11): turns a migrated database into a
-- distributed one. Run once, as the migration owner, on the coordinator of a
-- Citus 12/13 cluster (PostgreSQL 15) whose workers are already added
-- (citus_add_node), after `npm run migrate` and with the actions server stopped:
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/citus/distribute.sql
--
-- Citus cannot be installed where this project is tested, so this script is
-- checked on paper only: tests/shape/citus.test.ts holds that every table of
-- public and pooled is classified below exactly once, and the shape lint
-- (sql/lint/) holds the rules that make the classification valid (tenant_id in
-- every key, composite foreign keys, plain policies, no int ids, tenant schemas
-- referencing only themselves and reference tables).
--
-- Classification:
--   reference tables      global lookups that request roles read and that
--                         triggers and foreign keys on tenant data need on every
--                         node (plans, the tenant registry, identities);
--   distributed tables    every table keyed by tenant_id that request roles
--                         reach, sharded on tenant_id and colocated with
--                         tenant_settings (one row per tenant), so a tenant's
--                         registry rows, usage, audit chain, invitations and
--                         pooled data live on one shard and join locally;
--   coordinator-local     platform bookkeeping that only the actions server
--                         reads as the owner (no grants to app or hasura);
--   distributed schemas   schema-tier tenants, one colocation group per schema;
--   database-tier tenants are separate databases (on this or another server),
--                         outside this cluster's distribution.
-- Run it in the main database only; a tenant database on a Citus cluster of
-- its own holds one tenant and needs no distribution.

create extension if not exists citus;

------------------------------------------------------------------------------
-- settings (for new sessions of this database)
------------------------------------------------------------------------------
do $$
begin
  -- The tenant is set per transaction with SET LOCAL (app.tenant_id, hasura.user,
  -- the tenant role); Citus forwards SET LOCAL to the workers only with this.
  execute format('alter database %I set citus.propagate_set_commands = %L', current_database(), 'local');
  -- Usage, limits, audit and timestamp triggers run on the shards.
  execute format('alter database %I set citus.enable_unsafe_triggers = %L', current_database(), 'on');
  -- A tenant schema created from now on (schema first, tables after, as
  -- provisioning does) is a distributed schema at once.
  execute format('alter database %I set citus.enable_schema_based_sharding = %L', current_database(), 'on');
end
$$;
set citus.enable_unsafe_triggers = on;

------------------------------------------------------------------------------
-- reference tables (parents before children)
------------------------------------------------------------------------------
select create_reference_table('public.plans');
select create_reference_table('public.tenants');
select create_reference_table('public.identities');
-- Meters and their per-plan caps: read by ingestion and the threshold trigger on every node.
select create_reference_table('public.meters');
select create_reference_table('public.plan_meters');

------------------------------------------------------------------------------
-- distributed tables: row-based sharding on tenant_id
------------------------------------------------------------------------------
-- The colocation anchor: one row per tenant, created with the tenant.
select create_distributed_table('public.tenant_settings', 'tenant_id', colocate_with => 'none');
select create_distributed_table('public.memberships', 'tenant_id', colocate_with => 'public.tenant_settings');
-- Limits and usage: counters, sharded usage deltas, monthly history, API calls
-- (the public.tenant_usage view over them needs no call of its own: Citus
-- plans a view's query over the tables it reads).
select create_distributed_table('public.tenant_counter_base', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_counter_shards', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_usage_counters', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_usage_history', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_api_calls', 'tenant_id', colocate_with => 'public.tenant_settings');
-- Audit chain and invitations.
select create_distributed_table('public.tenant_audit_heads', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_audit_logs', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_invitations', 'tenant_id', colocate_with => 'public.tenant_settings');
-- Custom domain ownership checks.
select create_distributed_table('public.custom_domain_verifications', 'tenant_id', colocate_with => 'public.tenant_settings');
-- Pooled tier: the template's tables shared by pooled tenants, colocated the
-- same way (parents before children: their composite foreign keys need it).
select create_distributed_table('pooled.members', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('pooled.channels', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('pooled.messages', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('pooled.files', 'tenant_id', colocate_with => 'public.tenant_settings');
-- Online moves: the write guard and the recorded changes are read and written
-- by the _050_move_guard trigger on the pooled shards, so they live beside
-- them; the moves' bookkeeping goes with its tenant too (its audit trigger
-- appends to the tenant's chain).
select create_distributed_table('public.tenant_write_guards', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_move_changes', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_moves', 'tenant_id', colocate_with => 'public.tenant_settings');
-- Portability: the personal part of audit entries and each chain's retention
-- checkpoint go with the chain; export jobs with their tenant.
select create_distributed_table('public.tenant_audit_personal', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_audit_retention', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.tenant_exports', 'tenant_id', colocate_with => 'public.tenant_settings');
-- Notices for a tenant's owners (its audit trigger appends to the tenant's chain).
select create_distributed_table('public.tenant_notices', 'tenant_id', colocate_with => 'public.tenant_settings');
-- Metered usage, its Stripe reports, webhooks (endpoints, outbox, deliveries,
-- attempts) and analytics / connector events: each tenant's rows on its shard.
select create_distributed_table('public.tenant_meter_caps', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.usage_events', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.usage_meter_totals', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.stripe_meter_reports', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.webhook_endpoints', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.webhook_events', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.webhook_deliveries', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.webhook_delivery_attempts', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.analytics_events', 'tenant_id', colocate_with => 'public.tenant_settings');
select create_distributed_table('public.connector_events', 'tenant_id', colocate_with => 'public.tenant_settings');
-- API keys go with their tenant (looked up by prefix across shards on each call).
select create_distributed_table('public.tenant_api_keys', 'tenant_id', colocate_with => 'public.tenant_settings');

------------------------------------------------------------------------------
-- coordinator-local tables (owner-only bookkeeping)
------------------------------------------------------------------------------
-- Added to Citus metadata so their foreign keys to reference tables keep working.
select citus_add_local_table_to_metadata('public.schema_migrations');
select citus_add_local_table_to_metadata('public.stripe_webhooks');
select citus_add_local_table_to_metadata('public.hasura_event_receipts');
select citus_add_local_table_to_metadata('public.hasura_tenant_sources');
select citus_add_local_table_to_metadata('public.deployment_settings');
-- Plan changes (written by the trigger on the plans reference table, on the coordinator).
select citus_add_local_table_to_metadata('public.platform_audit_logs');
-- Sessions, refresh tokens, mailed tokens and the outbox: keyed by identity, owner-only.
select citus_add_local_table_to_metadata('public.auth_sessions');
select citus_add_local_table_to_metadata('public.auth_refresh_tokens');
select citus_add_local_table_to_metadata('public.identity_tokens');
select citus_add_local_table_to_metadata('public.outbox');

------------------------------------------------------------------------------
-- schema tenants: schema-based sharding
------------------------------------------------------------------------------
-- Each existing tenant schema becomes a distributed schema (its tables move
-- together to one node); new ones are distributed at creation (setting above).
do $$
declare
  v_schema text;
begin
  for v_schema in
    select t.schema_name from public.tenants t
    where t.isolation = 'schema' and t.schema_name is not null
      and to_regnamespace(quote_ident(t.schema_name)) is not null
    order by t.schema_name
  loop
    perform citus_schema_distribute(quote_ident(v_schema)::regnamespace);
  end loop;
end
$$;
