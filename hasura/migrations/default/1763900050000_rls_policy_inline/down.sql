create or replace function public.enable_tenant_rls(p_table regclass, p_tenant_column name default 'tenant_id')
returns void
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  execute format('alter table %s enable row level security', p_table);
  execute format('alter table %s force row level security', p_table);

  execute format('drop policy if exists app_tenant on %s', p_table);
  execute format(
    'create policy app_tenant on %s as permissive for all to app
       using (%2$I = public.current_tenant_id()) with check (%2$I = public.current_tenant_id())',
    p_table, p_tenant_column);

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
