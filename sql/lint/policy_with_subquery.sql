-- A policy is one plain per-row predicate (ARCHITECTURE.md §4): no subquery, and no call
-- to a function of ours that reads tables (Citus rejects both on distributed
-- tables, and both cost a query per row). Helpers such as
-- public.current_tenant_id() read only settings and pass.
with pol as (
  select p.oid, p.polname, t.ident as table_ident,
         coalesce(p.polqual::text, '') || ' ' || coalesce(p.polwithcheck::text, '') as tree
  from pg_catalog.pg_policy p
  join lint_tables t on t.oid = p.polrelid
), called as (
  select distinct pol.oid, m[1]::oid as fn
  from pol
  cross join lateral pg_catalog.regexp_matches(pol.tree, ':(?:funcid|opfuncid) (\d+)', 'g') as m
)
select pg_catalog.format('%I on %s', pol.polname, pol.table_ident) as object,
       'expression contains a subquery' as detail
from pol
where pol.tree ~ '\{SUBLINK '
union all
select pg_catalog.format('%I on %s', pol.polname, pol.table_ident),
       pg_catalog.format('calls %s, which reads tables', f.ident)
from pol
join called c on c.oid = pol.oid
join lint_functions f on f.oid = c.fn
join pg_catalog.pg_language l on l.oid = f.prolang
join pg_catalog.pg_proc p on p.oid = f.oid
where l.lanname in ('sql', 'plpgsql')
  and (coalesce(p.prosqlbody::text, '') ~ '\{RANGETBLENTRY .*:rtekind 0 '
       or p.prosrc ~* '\m(from|join)\M')
