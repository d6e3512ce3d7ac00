-- A role that can reach a table (usage on its schema and a privilege on it) has
-- at least one policy written for it; otherwise its grant is either dead or
-- relies on nobody ever turning row-level security off.
select t.ident as object,
       pg_catalog.format('role %s holds privileges on it but no policy applies to that role', r.rolname) as detail
from lint_tables t
cross join lint_roles r
where t.relrowsecurity
  and not r.is_super
  and pg_catalog.has_schema_privilege(r.oid, t.nspoid, 'USAGE')
  and (pg_catalog.has_table_privilege(r.oid, t.oid, 'SELECT, INSERT, UPDATE, DELETE')
       or pg_catalog.has_any_column_privilege(r.oid, t.oid, 'SELECT, INSERT, UPDATE'))
  and not exists (select 1 from pg_catalog.pg_policy p
                  where p.polrelid = t.oid and (0::oid = any (p.polroles) or r.oid = any (p.polroles)))
