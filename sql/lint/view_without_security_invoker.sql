-- A view runs with its owner's rights unless security_invoker is set, so a view
-- owned by the migration role would read every tenant's rows past RLS.
-- Materialized views never apply RLS at all and have no place in an exposed schema.
select v.ident as object,
       case when v.relkind = 'm' then 'materialized view: row-level security never applies to it'
            else 'view without security_invoker = true' end as detail
from lint_views v
where v.relkind = 'm'
   or not exists (select 1 from pg_catalog.unnest(v.reloptions) o
                  where pg_catalog.lower(o) in ('security_invoker=true', 'security_invoker=on',
                                                'security_invoker=yes', 'security_invoker=1'))
