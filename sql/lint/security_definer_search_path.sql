-- A security definer function pins its search_path (ARCHITECTURE.md §4), without
-- "$user" and with pg_temp last: where pg_temp is not listed it is searched
-- first, so a caller's temporary table could stand in for a real one. An empty
-- search_path (everything schema-qualified) is the tightest pin and passes.
with pinned as (
  select f.ident,
         (select pg_catalog.substr(c, pg_catalog.length('search_path=') + 1)
          from pg_catalog.unnest(f.proconfig) c
          where c like 'search_path=%') as search_path
  from lint_functions f
  where f.prosecdef
), parsed as (
  select p.ident, p.search_path,
         pg_catalog.array_remove(pg_catalog.regexp_split_to_array(
           pg_catalog.replace(pg_catalog.replace(coalesce(p.search_path, ''), '"', ''), ' ', ''), ','), '') as schemas
  from pinned p
)
select p.ident as object,
       case when p.search_path is null then 'security definer without a pinned search_path'
            when '$user' = any (p.schemas) then pg_catalog.format('search_path %s includes "$user"', p.search_path)
            else pg_catalog.format('search_path %s does not end with pg_temp', p.search_path) end as detail
from parsed p
where p.search_path is null
   or '$user' = any (p.schemas)
   or (pg_catalog.cardinality(p.schemas) > 0 and p.schemas[pg_catalog.cardinality(p.schemas)] <> 'pg_temp')
