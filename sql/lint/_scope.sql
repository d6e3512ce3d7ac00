-- What the lint looks at, as temporary views the rule files (sql/lint/<rule>.sql)
-- query. Created in the lint's own transaction and rolled back with it, so the
-- linted database is left untouched. Objects created by extensions are not ours
-- and are left out everywhere.

-- Exposed schemas: the registry (public), the pooled tier (pooled) and every
-- tenant schema, known by name or from the registry.
create or replace temporary view lint_schemas as
select n.oid, n.nspname,
       case when n.nspname = 'public' then 'global'
            when n.nspname = 'pooled' then 'pooled'
            else 'tenant' end as kind
from pg_catalog.pg_namespace n
where n.nspname in ('public', 'pooled')
   or n.nspname like 'tenant\_%'
   or n.nspname in (select t.schema_name from public.tenants t where t.schema_name is not null);

-- Tables of the exposed schemas. kind: 'pooled' = keyed by tenant_id (schema
-- pooled, or a public table with a tenant_id column), sharded on it under Citus;
-- 'global' = the other public tables (reference or coordinator-local under Citus);
-- 'tenant' = a tenant schema's template table.
create or replace temporary view lint_tables as
select c.oid, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
       s.oid as nspoid, s.nspname,
       pg_catalog.format('%I.%I', s.nspname, c.relname) as ident,
       case when s.kind = 'tenant' then 'tenant'
            when s.kind = 'pooled' or ta.attnum is not null then 'pooled'
            else 'global' end as kind,
       ta.attnum as tenant_attnum
from pg_catalog.pg_class c
join lint_schemas s on s.oid = c.relnamespace
left join pg_catalog.pg_attribute ta
  on ta.attrelid = c.oid and ta.attname = 'tenant_id' and not ta.attisdropped
where c.relkind in ('r', 'p')
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid and d.deptype = 'e');

-- Views and materialized views of the exposed schemas.
create or replace temporary view lint_views as
select c.oid, c.relname, c.relkind, c.reloptions, s.oid as nspoid, s.nspname,
       pg_catalog.format('%I.%I', s.nspname, c.relname) as ident
from pg_catalog.pg_class c
join lint_schemas s on s.oid = c.relnamespace
where c.relkind in ('v', 'm')
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_class'::regclass and d.objid = c.oid and d.deptype = 'e');

-- The roles requests run as: the actions server (app), the Hasura engine (hasura)
-- and every tenant's own role (schema and database tiers).
-- is_super: superuser itself or able to SET ROLE to one; such a role passes every
-- privilege check, so the privilege rules leave it to role_is_superuser.
create or replace temporary view lint_roles as
select r.oid, r.rolname, r.rolbypassrls, r.rolcreaterole,
       r.rolsuper or exists (select 1 from pg_catalog.pg_roles s
                             where s.rolsuper and s.oid <> r.oid
                               and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')) as is_super
from pg_catalog.pg_roles r
where r.rolname in ('app', 'hasura')
   or r.rolname in (select t.db_role from public.tenants t where t.db_role is not null);

-- Functions in every schema but the system ones (a security definer function in
-- a private schema is as dangerous as one in public).
create or replace temporary view lint_functions as
select p.oid, p.proname, p.prosecdef, p.proconfig, p.prolang, n.nspname,
       pg_catalog.format('%I.%I(%s)', n.nspname, p.proname,
                         pg_catalog.pg_get_function_identity_arguments(p.oid)) as ident
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\_toast%'
  and n.nspname not like 'pg\_temp\_%'
  and not exists (select 1 from pg_catalog.pg_depend d
                  where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e');

-- Foreign keys whose referencing table is in an exposed schema, with both ends classified.
create or replace temporary view lint_foreign_keys as
select con.oid, con.conname, con.conkey, con.confkey, con.confupdtype, con.confdeltype,
       pg_catalog.format('%s.%I', src.ident, con.conname) as ident,
       src.oid as src_oid, src.ident as src_ident, src.kind as src_kind,
       src.nspoid as src_nspoid, src.tenant_attnum as src_tenant_attnum,
       con.confrelid as dst_oid,
       pg_catalog.format('%I.%I', dn.nspname, dc.relname) as dst_ident,
       dst.kind as dst_kind, dst.tenant_attnum as dst_tenant_attnum
from pg_catalog.pg_constraint con
join lint_tables src on src.oid = con.conrelid
join pg_catalog.pg_class dc on dc.oid = con.confrelid
join pg_catalog.pg_namespace dn on dn.oid = dc.relnamespace
left join lint_tables dst on dst.oid = con.confrelid
where con.contype = 'f';
