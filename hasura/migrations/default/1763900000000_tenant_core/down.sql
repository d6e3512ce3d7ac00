-- Undo the tenant core in reverse. Tenant schemas and roles are dropped through
-- hard_delete_tenant first so nothing is orphaned.
do $$
declare v_id uuid;
begin
  if to_regclass('public.tenants') is not null then
    for v_id in select id from public.tenants loop
      perform public.hard_delete_tenant(v_id);
    end loop;
  end if;
end
$$;
drop table if exists public.tenant_settings;
drop table if exists public.memberships;
drop table if exists public.identities;
drop table if exists public.tenants;
drop table if exists public.plans;
drop function if exists public.archive_cancelled_tenants(interval);
drop function if exists public.hard_delete_tenant(uuid);
drop function if exists public.tenant_owns_schema(uuid, name);
drop function if exists public.secure_tenant_schema(name, name);
drop function if exists public.login_lookup(uuid, text);
drop function if exists public.tg_tenants__notify();
drop function if exists public.tg__timestamps();
drop function if exists public.enable_tenant_rls(regclass, name);
drop function if exists public.hasura_role();
drop function if exists public.hasura_tenant_id();
drop function if exists public.hasura_session();
drop function if exists public.current_user_id();
drop function if exists public.current_tenant_id();
drop function if exists public.slug_is_reserved(text);
