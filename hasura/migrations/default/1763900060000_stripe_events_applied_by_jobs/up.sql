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

-- The backlog the applier walks, oldest Stripe time first: stored, never attempted.
create index if not exists stripe_webhooks_backlog_idx on public.stripe_webhooks (event_created_at, id)
  where not processed and attempts = 0;
