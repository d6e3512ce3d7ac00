-- The database never stores a credential in the clear: no plain password column
-- (hashes are fine, and guarded by secret_column_readable), and the registry
-- keeps the NAME of a database tenant's connection setting, never a connection
-- string that carries its password (ARCHITECTURE.md §11).
select pg_catalog.format('%s.%I', t.ident, a.attname) as object,
       case when a.attname ~ '(^|_)(password|passwd|pwd)$' then 'plain password column'
            else 'connection string column (store the name of a setting instead)' end as detail
from lint_tables t
join pg_catalog.pg_attribute a on a.attrelid = t.oid and a.attnum > 0 and not a.attisdropped
where a.attname ~ '(^|_)(password|passwd|pwd)$'
   or a.attname ~ '(^|_)(database_url|db_url|connection_string|connection_uri|conninfo|dsn)$'
