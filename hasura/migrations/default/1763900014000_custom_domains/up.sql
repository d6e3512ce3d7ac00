-- Custom domains proven by DNS. Setting a domain issues a token the tenant
-- publishes as TXT <prefix>.<domain>; the actions server checks it (on request
-- and from a job with backoff), and re-checks verified domains daily.
-- public.tenants.custom_domain_verified_at stays the one flag resolution reads;
-- this table holds the proof's bookkeeping. Owner-only: the actions server reads
-- and writes it as the owner after authorising the caller.

------------------------------------------------------------------------------
-- tables
------------------------------------------------------------------------------
create table if not exists public.custom_domain_verifications (
  tenant_id uuid primary key references public.tenants (id) on delete cascade,
  domain text not null,
  -- Published in DNS by design: a proof of control, not a credential.
  token text not null,
  state text not null default 'pending',
  -- How it was verified: by its DNS record, or by a platform admin ('manual').
  method text,
  attempts integer not null default 0,
  next_check_at timestamptz,
  -- Pending: re-checks stop after this (the tenant may still ask for a check).
  expires_at timestamptz not null,
  last_checked_at timestamptz,
  last_result text,
  -- Verified: since when the daily re-check has found the record gone.
  missing_since timestamptz,
  verified_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint custom_domain_verifications_state check (state in ('pending', 'verified', 'expired')),
  constraint custom_domain_verifications_method check (method is null or method in ('dns', 'manual')),
  constraint custom_domain_verifications_verified check ((state = 'verified') = (verified_at is not null and method is not null))
);

------------------------------------------------------------------------------
-- indexes
------------------------------------------------------------------------------
-- The jobs pick due rows by state and time.
create index if not exists custom_domain_verifications_due_idx
  on public.custom_domain_verifications (state, next_check_at);
create index if not exists custom_domain_verifications_checked_idx
  on public.custom_domain_verifications (state, last_checked_at);

------------------------------------------------------------------------------
-- RLS (no grants: only the owner reads or writes it)
------------------------------------------------------------------------------
select public.enable_tenant_rls('public.custom_domain_verifications');

------------------------------------------------------------------------------
-- triggers
------------------------------------------------------------------------------
drop trigger if exists _100_timestamps on public.custom_domain_verifications;
create trigger _100_timestamps before insert or update on public.custom_domain_verifications
  for each row execute function public.tg__timestamps();

------------------------------------------------------------------------------
-- grants: none
------------------------------------------------------------------------------
revoke all on public.custom_domain_verifications from public, app, hasura;
