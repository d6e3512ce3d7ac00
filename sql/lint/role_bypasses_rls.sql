-- No request role holds BYPASSRLS or can SET ROLE to a (non-superuser) role that
-- does; superusers are reported by role_is_superuser.
select r.rolname::text as object,
       case when r.rolbypassrls then 'role has BYPASSRLS'
            else pg_catalog.format('role can SET ROLE to %s, which has BYPASSRLS',
                   (select pg_catalog.string_agg(b.rolname, ', ' order by b.rolname)
                    from pg_catalog.pg_roles b
                    where b.rolbypassrls and not b.rolsuper and b.oid <> r.oid
                      and pg_catalog.pg_has_role(r.oid, b.oid, 'MEMBER')))
       end as detail
from lint_roles r
where not r.is_super
  and (r.rolbypassrls
       or exists (select 1 from pg_catalog.pg_roles b
                  where b.rolbypassrls and not b.rolsuper and b.oid <> r.oid
                    and pg_catalog.pg_has_role(r.oid, b.oid, 'MEMBER')))
