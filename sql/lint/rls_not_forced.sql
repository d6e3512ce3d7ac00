-- ... and FORCEd, so the table owner (the migration role the actions server
-- uses for platform work) is held to the policies too.
select t.ident as object, 'row level security is enabled but not forced' as detail
from lint_tables t
where t.relrowsecurity and not t.relforcerowsecurity
