-- Foreign keys between pooled tables delete with cascade, restrict or no action
-- and never cascade updates: SET NULL / SET DEFAULT would null or rewrite
-- tenant_id, and Citus refuses both (and ON UPDATE CASCADE) on distributed tables.
select fk.ident as object,
       pg_catalog.format('on delete %s, on update %s',
         case fk.confdeltype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                             when 'n' then 'set null' when 'd' then 'set default' end,
         case fk.confupdtype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade'
                             when 'n' then 'set null' when 'd' then 'set default' end) as detail
from lint_foreign_keys fk
where fk.src_kind = 'pooled' and fk.dst_kind = 'pooled'
  and (fk.confdeltype in ('n', 'd') or fk.confupdtype in ('c', 'n', 'd'))
