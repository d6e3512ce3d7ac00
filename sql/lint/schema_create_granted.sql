-- Nobody but the migration owner creates objects in an exposed schema: a table,
-- function or operator planted there could shadow what unqualified SQL and
-- loosely pinned functions resolve to. A grant to PUBLIC is reported once, not
-- once per role it reaches.
with holders as (
  select s.nspname, r.rolname,
         pg_catalog.has_schema_privilege('public', s.oid, 'CREATE') as public_may
  from lint_schemas s
  cross join (select rolname::text from lint_roles where not is_super
              union all select 'public') as r (rolname)
  where pg_catalog.has_schema_privilege(r.rolname, s.oid, 'CREATE')
)
select h.nspname::text as object, pg_catalog.format('%s may CREATE in it', h.rolname) as detail
from holders h
where h.rolname = 'public' or not h.public_may
