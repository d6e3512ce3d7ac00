-- Ids are uuid or bigint, never int (ARCHITECTURE.md §11): an id column (id, *_id) or
-- a serial/identity column of type smallint or integer.
select pg_catalog.format('%s.%I', t.ident, a.attname) as object,
       pg_catalog.format('%s id column', pg_catalog.format_type(a.atttypid, a.atttypmod)) as detail
from lint_tables t
join pg_catalog.pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
left join pg_catalog.pg_attrdef d on d.adrelid = t.oid and d.adnum = a.attnum
where a.atttypid in ('pg_catalog.int2'::regtype, 'pg_catalog.int4'::regtype)
  and (a.attname = 'id' or a.attname like '%\_id' or a.attidentity <> ''
       or pg_catalog.pg_get_expr(d.adbin, d.adrelid) like 'nextval(%')
