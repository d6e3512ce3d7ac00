drop trigger if exists _100_timestamps on public.stripe_webhooks;
create trigger _100_timestamps before insert or update on public.stripe_webhooks
  for each row execute function public.tg__timestamps();
drop index if exists public.stripe_webhooks_tenant_idx;
create index if not exists stripe_webhooks_tenant_id_idx on public.stripe_webhooks (tenant_id, created_at);
create index if not exists stripe_webhooks_unprocessed_idx on public.stripe_webhooks (created_at)
  where not processed;
drop index if exists public.stripe_webhooks_backlog_idx;
alter table public.stripe_webhooks drop constraint if exists stripe_webhooks_outcome;
alter table public.stripe_webhooks drop column if exists outcome_reason, drop column if exists outcome;
