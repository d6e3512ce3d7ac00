-- No foreign key points from a global table into tenant data (a pooled table or
-- a tenant schema): under Citus a reference table cannot reference a
-- distributed one, and a registry row must not depend on one tenant's rows.
select fk.ident as object,
       pg_catalog.format('references tenant data in %s', fk.dst_ident) as detail
from lint_foreign_keys fk
where fk.src_kind = 'global' and fk.dst_kind in ('pooled', 'tenant')
