-- Every table in an exposed schema has row-level security enabled (STYLE.md 2).
select t.ident as object, 'row level security is not enabled' as detail
from lint_tables t
where not t.relrowsecurity
