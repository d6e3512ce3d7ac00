-- A tenant's Hasura source follows its schema and its lifecycle.
--
-- synced_version: the template version the source's metadata was last brought
-- to (null: not known yet). `tenants migrate` upgrades schemas first, then
-- brings every source whose synced_version is behind its tenant's
-- template_version up to date; a run killed in between, or a Hasura that was
-- unreachable, leaves the version behind and the next run (or the retry job)
-- finishes it.
alter table public.hasura_tenant_sources add column if not exists synced_version bigint;
comment on column public.hasura_tenant_sources.synced_version is
  'Template version the Hasura metadata of this source reflects; behind tenants.template_version = metadata sync pending';

-- Cancelling, archiving and reactivating a tenant (from any path: the API, the
-- archive cron, SQL) queue the job that drops or restores its source, in the
-- same transaction as the status change. Suspension keeps the source (the auth
-- webhook refuses suspended tenants). Without the job queue installed the
-- change is still made; the reconcile job finds the drift.
create or replace function public.tg__hasura_source_follow_status()
returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_closed constant text[] := array['cancelled', 'archived'];
begin
  if new.isolation <> 'pooled'
     and (old.status = any (v_closed)) is distinct from (new.status = any (v_closed))
     and to_regprocedure('graphile_worker.add_job(text,json,text,timestamptz,integer,text,integer,text[],text)') is not null then
    execute 'select graphile_worker.add_job($1, json_build_object(''tenantId'', $2), max_attempts => 25, job_key => $3)'
      using 'hasura.sync-source', new.id, 'hasura.sync-source:' || new.id::text;
  end if;
  return null;
end
$$;

drop trigger if exists _950_hasura_source on public.tenants;
create trigger _950_hasura_source after update of status on public.tenants
  for each row execute function public.tg__hasura_source_follow_status();

-- A move changes the tier, or moves a database tenant to another server.
alter table public.tenant_moves drop constraint if exists tenant_moves_changes_tier;
alter table public.tenant_moves add constraint tenant_moves_changes_tier check (
  from_isolation <> to_isolation
  or (to_isolation = 'database' and (source ->> 'database_url_env') is distinct from (target ->> 'database_url_env'))
);
