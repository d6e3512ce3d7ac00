-- Stripe events are acknowledged once stored and applied by the job runner
-- (billing.apply-events): the stored row is the proof of receipt, and the
-- columns below say what applying it did.

-- What applying the event did: 'processed' (the tenant changed) or 'ignored'
-- (nothing to change: stale, another subscription, no tenant, type not handled).
-- Null on events stored before it was recorded, and on those not applied yet.
alter table public.stripe_webhooks
  add column if not exists outcome text,
  -- Why an applied event changed nothing, for whoever investigates.
  add column if not exists outcome_reason text;

alter table public.stripe_webhooks drop constraint if exists stripe_webhooks_outcome;
alter table public.stripe_webhooks add constraint stripe_webhooks_outcome
  check (outcome is null or (processed and outcome in ('processed', 'ignored')));

-- The backlog the applier walks, oldest Stripe time first: stored, not applied yet.
create index if not exists stripe_webhooks_backlog_idx on public.stripe_webhooks (event_created_at, id)
  where not processed;

-- The webhook's answer waits for this insert alone, so the row carries no more
-- than it needs: the backlog index above replaces the older index on created_at
-- (same predicate), a tenant is looked up only by events that found one, and
-- updated_at's default covers the insert (the trigger keeps it for updates).
drop index if exists public.stripe_webhooks_unprocessed_idx;
drop index if exists public.stripe_webhooks_tenant_id_idx;
create index if not exists stripe_webhooks_tenant_idx on public.stripe_webhooks (tenant_id, created_at)
  where tenant_id is not null;
drop trigger if exists _100_timestamps on public.stripe_webhooks;
create trigger _100_timestamps before update on public.stripe_webhooks
  for each row execute function public.tg__timestamps();
