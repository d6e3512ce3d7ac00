-- A tenant schema's objects reference only their own schema, pg_catalog and the
-- global reference tables (public tables without tenant_id), so Citus can move
-- the schema to any node as a unit (citus_schema_distribute, ARCHITECTURE.md §11).
-- Dependencies recorded by PostgreSQL are followed from the schema's tables,
-- views, sequences, constraints, defaults, triggers, policies and view rules.
with owned as (
  select d.refclassid, d.refobjid, coalesce(c.oid, con.conrelid, ad.adrelid, rw.ev_class, tg.tgrelid, pol.polrelid) as relid
  from pg_catalog.pg_depend d
  left join pg_catalog.pg_class c on d.classid = 'pg_catalog.pg_class'::regclass and c.oid = d.objid
  left join pg_catalog.pg_constraint con on d.classid = 'pg_catalog.pg_constraint'::regclass and con.oid = d.objid
  left join pg_catalog.pg_attrdef ad on d.classid = 'pg_catalog.pg_attrdef'::regclass and ad.oid = d.objid
  left join pg_catalog.pg_rewrite rw on d.classid = 'pg_catalog.pg_rewrite'::regclass and rw.oid = d.objid
  left join pg_catalog.pg_trigger tg on d.classid = 'pg_catalog.pg_trigger'::regclass and tg.oid = d.objid
  left join pg_catalog.pg_policy pol on d.classid = 'pg_catalog.pg_policy'::regclass and pol.oid = d.objid
  where d.refclassid = 'pg_catalog.pg_class'::regclass and d.deptype in ('n', 'a')
), refs as (
  select distinct src.oid as src_oid, src_ns.nspname as src_nsp,
         pg_catalog.format('%I.%I', src_ns.nspname, src.relname) as src_ident,
         -- an index stands for its table (a foreign key depends on the unique index it uses)
         coalesce(i.indrelid, o.refobjid) as dst_oid
  from owned o
  join pg_catalog.pg_class src on src.oid = o.relid
  join lint_schemas s on s.oid = src.relnamespace and s.kind = 'tenant'
  join pg_catalog.pg_namespace src_ns on src_ns.oid = src.relnamespace
  left join pg_catalog.pg_index i on i.indexrelid = o.refobjid
)
select r.src_ident as object,
       pg_catalog.format('references %I.%I', dn.nspname, dc.relname) as detail
from refs r
join pg_catalog.pg_class dc on dc.oid = r.dst_oid
join pg_catalog.pg_namespace dn on dn.oid = dc.relnamespace
left join lint_tables dt on dt.oid = dc.oid
where dn.nspname <> r.src_nsp
  and dn.nspname not in ('pg_catalog', 'information_schema')
  and not (dt.kind is not distinct from 'global')
