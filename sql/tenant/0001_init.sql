-- Tenant template v1: the sample product data that plans meter. Applied inside
-- the tenant's own schema (search_path is set to it for the transaction), so
-- tables are created unqualified and may reference only their own schema or
-- global reference tables (Citus schema-based sharding, ARCHITECTURE.md §11).

create table members (
  id uuid primary key default gen_random_uuid(),
  identity_id uuid unique,
  display_name text not null check (length(btrim(display_name)) between 1 and 200),
  email text check (email is null or email = lower(email)),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table channels (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(btrim(name)) between 1 and 100),
  is_private boolean not null default false,
  created_by uuid references members (id) on delete cascade,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (name)
);
create index on channels (created_by);

create table messages (
  id uuid primary key default gen_random_uuid(),
  channel_id uuid not null references channels (id) on delete cascade,
  member_id uuid references members (id) on delete cascade,
  body text not null,
  created_at timestamptz not null default now()
);
create index on messages (channel_id, created_at);
create index on messages (member_id);

create table files (
  id uuid primary key default gen_random_uuid(),
  channel_id uuid references channels (id) on delete cascade,
  member_id uuid references members (id) on delete cascade,
  name text not null,
  content_type text,
  size_bytes bigint not null check (size_bytes >= 0),
  created_at timestamptz not null default now()
);
create index on files (channel_id);
create index on files (member_id);
