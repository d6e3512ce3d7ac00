create or replace function public.secure_tenant_schema(p_schema name, p_role name)
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  v_rel record;
begin
  execute format('revoke all on schema %I from public', p_schema);
  execute format('grant usage on schema %I to %I', p_schema, p_role);
  for v_rel in
    select c.oid::regclass as rel, c.relkind
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
      execute format('grant usage, select on sequence %s to %I', v_rel.rel, p_role);
      continue;
    end if;
    execute format('alter table %s enable row level security', v_rel.rel);
    execute format('alter table %s force row level security', v_rel.rel);
    execute format('drop policy if exists tenant_role_all on %s', v_rel.rel);
    execute format('create policy tenant_role_all on %s for all to %I using (true) with check (true)',
                   v_rel.rel, p_role);
    execute format('grant select, insert, update, delete on %s to %I', v_rel.rel, p_role);
  end loop;
end
$$;
revoke all on function public.secure_tenant_schema(name, name) from public;

drop trigger if exists _900_audit on public.tenants;
create trigger _900_audit after insert or update or delete on public.tenants
  for each row execute function public.tg__audit(
    'entity=tenant', 'tenant=id', 'key=id', 'ignore=created_at,updated_at',
    'group.status=status,+suspended_at,+cancelled_at,+archived_at,+billing_suspended',
    'group.plan_changed=plan',
    'group.custom_domain.changed=custom_domain,+custom_domain_verified_at',
    'group.custom_domain.verified=custom_domain_verified_at',
    'group.subscription.updated=stripe_*,subscription_*,billing_*,current_period_*,cancel_at*,past_due*,grace_*,last_payment_at,trial_ends_at',
    'group.moved=isolation,+schema_name,+db_role,+database_name,+database_url_env,+template_version',
    'group.template_upgraded=template_version');

drop function if exists public.record_template_upgrade(bigint, uuid[]);
