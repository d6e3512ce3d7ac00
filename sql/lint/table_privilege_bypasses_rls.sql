-- TRUNCATE ignores row-level security (one tenant's request could empty every
-- tenant's rows) and fires no row triggers (usage counters would drift); TRIGGER
-- lets a role attach its own code to others' writes. No request role holds either.
select t.ident as object,
       pg_catalog.format('role %s holds %s', r.rolname, priv.name) as detail
from lint_tables t
cross join lint_roles r
cross join (values ('TRUNCATE'), ('TRIGGER')) as priv (name)
where not r.is_super
  and pg_catalog.has_table_privilege(r.oid, t.oid, priv.name)
