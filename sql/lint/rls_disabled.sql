-- Every table in an exposed schema has row-level security enabled (ARCHITECTURE.md §4).
select t.ident as object, 'row level security is not enabled' as detail
from lint_tables t
where not t.relrowsecurity
