-- CREATE FUNCTION grants EXECUTE to PUBLIC; a security definer function revokes
-- it and grants each signature to the roles that need it (ARCHITECTURE.md §4).
select f.ident as object, 'security definer function executable by PUBLIC' as detail
from lint_functions f
where f.prosecdef
  and pg_catalog.has_function_privilege('public', f.oid, 'EXECUTE')
