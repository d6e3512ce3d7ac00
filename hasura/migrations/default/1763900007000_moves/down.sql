-- Undoes 1763900007000_moves in reverse. A move in progress stops the rollback:
-- its tenant may be frozen or half-copied (finish or abort it first:
-- npm run cli -- tenants move <slug> --resume | --abort).
do $$
begin
  if exists (select 1 from public.tenant_moves where finished_at is null)
     or exists (select 1 from public.tenants where status = 'migrating') then
    raise exception 'a tenant move is in progress: finish or abort it first (npm run cli -- tenants move <slug> --resume or --abort)';
  end if;
end
$$;

-- The definition of 1763900003000_audit_invitations.
drop trigger if exists _900_audit on public.tenants;
create trigger _900_audit after insert or update or delete on public.tenants
  for each row execute function public.tg__audit(
    'entity=tenant', 'tenant=id', 'key=id', 'ignore=created_at,updated_at',
    'group.status=status,+suspended_at,+cancelled_at,+archived_at,+billing_suspended',
    'group.plan_changed=plan',
    'group.custom_domain.changed=custom_domain,+custom_domain_verified_at',
    'group.custom_domain.verified=custom_domain_verified_at',
    'group.subscription.updated=stripe_*,subscription_*,billing_*,current_period_*,cancel_at*,past_due*,grace_*,last_payment_at,trial_ends_at',
    'group.template_upgraded=template_version');

-- The guard triggers: on the pooled tables, and on any tenant schema a move attached them to.
do $$
declare
  v_trigger record;
begin
  for v_trigger in
    select n.nspname, c.relname
    from pg_trigger t
    join pg_class c on c.oid = t.tgrelid
    join pg_namespace n on n.oid = c.relnamespace
    where t.tgname = '_050_move_guard'
  loop
    execute format('drop trigger if exists _050_move_guard on %I.%I', v_trigger.nspname, v_trigger.relname);
  end loop;
end
$$;

drop function if exists public.attach_move_guard(name, uuid);
drop function if exists public.drain_tenant_writers(uuid);
drop function if exists public.tg__move_guard();

drop table if exists public.tenant_move_changes;
drop table if exists public.tenant_write_guards;
drop table if exists public.tenant_moves;

alter table public.tenants drop constraint if exists tenants_status_check;
alter table public.tenants
  add constraint tenants_status_check check (status in ('trial', 'active', 'suspended', 'cancelled', 'archived'));
