-- Template upgrades and provisioning cost the DDL, not the bookkeeping around it.
--
-- tenants:migrate upgrades tenants in batches (actions-server/src/tenants/
-- template-migrate.ts): a batch records the new version of all its tenants in
-- one statement and one platform audit entry, template.upgraded, naming every
-- tenant with the version it had. A tenant's own audit trail therefore no
-- longer records template_version: the platform changes the template, the
-- tenant changes nothing (a sign-up records the version with the new row).

create or replace function public.record_template_upgrade(p_version bigint, p_tenants uuid[])
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_from jsonb;
begin
  select jsonb_object_agg(t.id, t.template_version) into v_from
  from public.tenants t where t.id = any (p_tenants);
  update public.tenants set template_version = p_version where id = any (p_tenants);
  insert into public.platform_audit_logs (actor_kind, actor_id, action, entity_type, entity_id, old_values, new_values)
  select a.actor_kind, a.actor_id, 'template.upgraded', 'template', p_version::text,
         jsonb_build_object('template_version', v_from),
         jsonb_build_object('template_version', p_version, 'tenants', to_jsonb(p_tenants))
  from public.audit_actor() a;
end
$$;
revoke all on function public.record_template_upgrade(bigint, uuid[]) from public;

drop trigger if exists _900_audit on public.tenants;
create trigger _900_audit after insert or update or delete on public.tenants
  for each row execute function public.tg__audit(
    'entity=tenant', 'tenant=id', 'key=id', 'ignore=created_at,updated_at,template_version',
    'group.status=status,+suspended_at,+cancelled_at,+archived_at,+billing_suspended',
    'group.plan_changed=plan',
    'group.custom_domain.changed=custom_domain,+custom_domain_verified_at',
    'group.custom_domain.verified=custom_domain_verified_at',
    'group.subscription.updated=stripe_*,subscription_*,billing_*,current_period_*,cancel_at*,past_due*,grace_*,last_payment_at,trial_ends_at',
    'group.moved=isolation,+schema_name,+db_role,+database_name,+database_url_env');

-- Securing a schema: one ALTER per table for both RLS switches, a policy only
-- where there is none, and one GRANT for all the tables (and one for all the
-- sequences) instead of one per table.
create or replace function public.secure_tenant_schema(p_schema name, p_role name)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_rel record;
  v_tables text[] := '{}';
  v_sequences text[] := '{}';
begin
  execute format('revoke all on schema %I from public', p_schema);
  execute format('grant usage on schema %I to %I', p_schema, p_role);
  -- The schema's relations come from pg_depend (indexed on the namespace):
  -- pg_class has no index on relnamespace alone, and with thousands of tenant
  -- schemas a scan of it would make every provisioning and upgrade slower as
  -- tenants are added. Incremental: tables already secured (RLS forced, the
  -- role's policy in place) are skipped, so an upgrade pays only for new ones.
  for v_rel in
    select c.oid::regclass::text as rel, c.relkind,
           exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'tenant_role_all') as has_policy
    from pg_depend d
    join pg_class c on c.oid = d.objid
    where d.classid = 'pg_class'::regclass
      and d.refclassid = 'pg_namespace'::regclass
      and d.refobjid = p_schema::regnamespace
      and c.relkind in ('r', 'p', 'S')
      and not (c.relkind in ('r', 'p') and c.relrowsecurity and c.relforcerowsecurity
               and exists (select 1 from pg_policy p where p.polrelid = c.oid and p.polname = 'tenant_role_all'))
  loop
    if v_rel.relkind = 'S' then
      v_sequences := v_sequences || v_rel.rel;
      continue;
    end if;
    execute format('alter table %s enable row level security, force row level security', v_rel.rel);
    if v_rel.has_policy then
      execute format('drop policy tenant_role_all on %s', v_rel.rel);
    end if;
    execute format('create policy tenant_role_all on %s for all to %I using (true) with check (true)', v_rel.rel, p_role);
    v_tables := v_tables || v_rel.rel;
  end loop;
  if cardinality(v_tables) > 0 then
    execute format('grant select, insert, update, delete on %s to %I', array_to_string(v_tables, ', '), p_role);
  end if;
  if cardinality(v_sequences) > 0 then
    execute format('grant usage, select on sequence %s to %I', array_to_string(v_sequences, ', '), p_role);
  end if;
end
$$;
revoke all on function public.secure_tenant_schema(name, name) from public;
