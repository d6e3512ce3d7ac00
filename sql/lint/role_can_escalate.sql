-- A request role cannot become another request role (a tenant role that can SET
-- ROLE to another tenant's role, or to app, reaches that data), nor create or
-- alter roles (CREATEROLE can grant itself any non-superuser role).
select r.rolname::text as object,
       pg_catalog.format('role can SET ROLE to %s', o.rolname) as detail
from lint_roles r
join lint_roles o on o.oid <> r.oid
where not r.is_super
  and pg_catalog.pg_has_role(r.oid, o.oid, 'MEMBER')
union all
select r.rolname::text, 'role has CREATEROLE'
from lint_roles r
where not r.is_super and r.rolcreaterole
