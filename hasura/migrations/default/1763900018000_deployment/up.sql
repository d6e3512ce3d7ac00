-- Settings every process of one deployment must share (the server, the worker,
-- the CLI). The first process to start records its values; every later one
-- compares its own and refuses to run on a mismatch, so a CLI run with another
-- TENANT_ROLE_PREFIX cannot create roles the servers would never use.
create table if not exists public.deployment_settings (
  key text primary key,
  value text not null,
  recorded_at timestamptz not null default now()
);
alter table public.deployment_settings enable row level security;
alter table public.deployment_settings force row level security;
-- Only the migration owner (the processes' own connection) reads or writes it.
revoke all on public.deployment_settings from public;
