-- Every tenant_id column leads an index (ARCHITECTURE.md §4): tenant policies are index
-- conditions, not sequential scans over every tenant's rows.
select t.ident as object, 'no index leads with tenant_id' as detail
from lint_tables t
where t.kind = 'pooled'
  and t.tenant_attnum is not null
  and not exists (select 1 from pg_catalog.pg_index i
                  where i.indrelid = t.oid and i.indkey[0] = t.tenant_attnum)
