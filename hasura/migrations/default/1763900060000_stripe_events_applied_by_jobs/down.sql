drop index if exists public.stripe_webhooks_backlog_idx;
alter table public.stripe_webhooks drop constraint if exists stripe_webhooks_outcome;
alter table public.stripe_webhooks drop column if exists outcome_reason, drop column if exists outcome;
