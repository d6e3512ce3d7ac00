-- A foreign key between pooled tables is composite (tenant_id, x_id) ->
-- (tenant_id, id), tenant_id matched to tenant_id, so parent and child rows
-- live on the same shard (ARCHITECTURE.md §11).
select fk.ident as object,
       pg_catalog.format('foreign key to %s does not pair tenant_id with tenant_id', fk.dst_ident) as detail
from lint_foreign_keys fk
where fk.src_kind = 'pooled' and fk.dst_kind = 'pooled'
  and not exists (select 1 from pg_catalog.generate_subscripts(fk.conkey, 1) k
                  where fk.conkey[k] = fk.src_tenant_attnum and fk.confkey[k] = fk.dst_tenant_attnum)
