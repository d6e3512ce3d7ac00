-- The app policy reads app.tenant_id directly instead of calling
-- public.current_tenant_id(). The two are the same expression, but a call to a
-- SQL function is inlined by the planner, which parses the function's body again
-- for every query it plans: on a pooled read that was about a fifth of the
-- query's server time (README, Performance). The predicate stays one plain
-- comparison of the tenant column with a stable value, so it is still an index
-- condition evaluated once per scan (ARCHITECTURE.md §4).
create or replace function public.enable_tenant_rls(p_table regclass, p_tenant_column name default 'tenant_id')
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
declare
  -- Exactly public.current_tenant_id()'s body.
  v_tenant constant text := $q$nullif(pg_catalog.current_setting('app.tenant_id', true), '')::uuid$q$;
begin
  execute format('alter table %s enable row level security, force row level security', p_table);

  execute format('drop policy if exists app_tenant on %s', p_table);
  execute format(
    'create policy app_tenant on %s as permissive for all to app
       using (%2$I = %3$s) with check (%2$I = %3$s)',
    p_table, p_tenant_column, v_tenant);

  execute format('drop policy if exists hasura_select on %s', p_table);
  execute format(
    'create policy hasura_select on %s for select to hasura
       using (public.hasura_tenant_id() is null or %2$I = public.hasura_tenant_id())',
    p_table, p_tenant_column);

  execute format('drop policy if exists hasura_insert on %s', p_table);
  execute format(
    'create policy hasura_insert on %s for insert to hasura
       with check (public.hasura_role() = ''admin'' or %2$I = public.hasura_tenant_id())',
    p_table, p_tenant_column);

  execute format('drop policy if exists hasura_update on %s', p_table);
  execute format(
    'create policy hasura_update on %s for update to hasura
       using (public.hasura_role() = ''admin'' or %2$I = public.hasura_tenant_id())
       with check (public.hasura_role() = ''admin'' or %2$I = public.hasura_tenant_id())',
    p_table, p_tenant_column);

  execute format('drop policy if exists hasura_delete on %s', p_table);
  execute format(
    'create policy hasura_delete on %s for delete to hasura
       using (public.hasura_role() = ''admin'' or %2$I = public.hasura_tenant_id())',
    p_table, p_tenant_column);
end
$$;
revoke all on function public.enable_tenant_rls(regclass, name) from public;

-- Rewrite every table's policies; the tenant column is the one the app policy compares.
do $$
declare
  v_rel record;
begin
  for v_rel in
    select p.polrelid::regclass as rel, a.attname
    from pg_catalog.pg_policy p
    join pg_catalog.pg_attribute a
      on a.attrelid = p.polrelid and a.attnum = (pg_catalog.regexp_match(p.polqual::text, ':varattno (\d+)'))[1]::int2
    where p.polname = 'app_tenant'
    order by 1
  loop
    perform public.enable_tenant_rls(v_rel.rel, v_rel.attname);
  end loop;
end
$$;
