-- A pooled table (sharded on tenant_id under Citus) has a primary key, and its
-- primary key and every unique constraint or unique index include tenant_id:
-- Citus enforces uniqueness only within one shard (ARCHITECTURE.md §11). A primary key
-- holding tenant_id also makes tenant_id NOT NULL, which Citus needs to place a row.
select t.ident as object,
       case when t.tenant_attnum is null then 'pooled table without a tenant_id column'
            else 'pooled table without a primary key' end as detail
from lint_tables t
where t.kind = 'pooled'
  and (t.tenant_attnum is null
       or not exists (select 1 from pg_catalog.pg_constraint c where c.conrelid = t.oid and c.contype = 'p'))
union all
select pg_catalog.format('%s.%I', t.ident, ic.relname),
       case when con.contype = 'p' then 'primary key does not include tenant_id'
            when con.contype = 'u' then 'unique constraint does not include tenant_id'
            else 'unique index does not include tenant_id' end
from lint_tables t
join pg_catalog.pg_index i on i.indrelid = t.oid and i.indisunique
join pg_catalog.pg_class ic on ic.oid = i.indexrelid
left join pg_catalog.pg_constraint con
  on con.conindid = i.indexrelid and con.conrelid = t.oid and con.contype in ('p', 'u')
where t.kind = 'pooled'
  and t.tenant_attnum is not null
  and not (t.tenant_attnum = any (i.indkey::int2[]))
