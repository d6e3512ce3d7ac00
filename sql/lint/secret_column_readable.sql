-- No request role can SELECT a secret: password hashes, token hashes, secrets,
-- API or private keys, by column name, in any table or view of an exposed
-- schema. Column privileges are checked, not assumed: a table-wide SELECT grant
-- reads every column. Login reads hashes through security definer functions.
select pg_catalog.format('%s.%I', rel.ident, a.attname) as object,
       pg_catalog.format('readable by %s', r.rolname) as detail
from (select oid, ident, nspoid from lint_tables
      union all
      select oid, ident, nspoid from lint_views) as rel
join pg_catalog.pg_attribute a on a.attrelid = rel.oid and a.attnum > 0 and not a.attisdropped
cross join lint_roles r
where a.attname ~ '(password|secret|token_hash|api_key|private_key)'
  and not r.is_super
  and pg_catalog.has_schema_privilege(r.oid, rel.nspoid, 'USAGE')
  and pg_catalog.has_column_privilege(r.oid, rel.oid, a.attnum, 'SELECT')
