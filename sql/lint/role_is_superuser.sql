-- No request role is a superuser or can SET ROLE to one.
select r.rolname::text as object,
       case when r.rolsuper then 'role is a superuser'
            else pg_catalog.format('role can SET ROLE to superuser %s',
                   (select pg_catalog.string_agg(s.rolname, ', ' order by s.rolname)
                    from pg_catalog.pg_roles s
                    where s.rolsuper and s.oid <> r.oid and pg_catalog.pg_has_role(r.oid, s.oid, 'MEMBER')))
       end as detail
from lint_roles l
join pg_catalog.pg_roles r on r.oid = l.oid
where l.is_super
