-- Demo data for a local stack, applied on request only:
--   hasura seed apply --database-name default
-- A tenant `demo` (pooled placement: registry rows and its rows in the pooled
-- tables, no schema) whose owner signs in on demo.<BASE_DOMAIN>
-- (demo.localhost by default) as demo@example.com / demo-password. Never
-- apply it to a database that faces the internet. Safe to re-run: every
-- insert skips what already exists.
insert into public.identities (email, name, password_hash)
values ('demo@example.com', 'Demo Owner',
        '$argon2id$v=19$m=65536,p=4,t=3$K88KMNW4A5+LpnCimTonEg$C1BGYHYxzBKcsOsopeFxiUEfhRzKBX0xQQTngJ5Y0FA')
on conflict (email) do nothing;

insert into public.tenants (name, slug, status, isolation, plan, branding)
values ('Demo Inc', 'demo', 'active', 'pooled', 'free', '{"appName": "Demo", "primaryColor": "#3b5bdb"}')
on conflict (slug) do nothing;

insert into public.memberships (tenant_id, identity_id, role)
select t.id, i.id, 'owner'
from public.tenants t, public.identities i
where t.slug = 'demo' and i.email = 'demo@example.com'
on conflict (tenant_id, identity_id) do nothing;

insert into public.tenant_settings (tenant_id)
select id from public.tenants where slug = 'demo'
on conflict (tenant_id) do nothing;

-- The owner is the tenant's first member in its own data, as at sign-up.
insert into pooled.members (tenant_id, identity_id, display_name, email)
select t.id, i.id, i.name, i.email
from public.tenants t, public.identities i
where t.slug = 'demo' and i.email = 'demo@example.com'
on conflict (tenant_id, identity_id) do nothing;
