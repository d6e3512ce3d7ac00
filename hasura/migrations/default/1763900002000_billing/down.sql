-- Undo billing in reverse.
drop trigger if exists _100_timestamps on public.stripe_webhooks;
drop trigger if exists _200_billing_suspension on public.tenants;
drop function if exists public.tg_tenants__billing_suspension();
drop function if exists public.purge_stripe_webhooks(interval);
drop function if exists public.suspend_past_due_tenants(timestamptz);
drop function if exists public.tenant_has_feature(uuid, text);
drop function if exists public.tenant_features(uuid);
drop table if exists public.stripe_webhooks;
drop index if exists public.tenants_grace_ends_at_idx;
drop index if exists public.tenants_stripe_subscription_id_key;
drop index if exists public.tenants_stripe_customer_id_key;
alter table public.tenants
  drop column if exists subscription_state_at,
  drop column if exists billing_suspended,
  drop column if exists grace_ends_at,
  drop column if exists past_due_since,
  drop column if exists last_payment_at,
  drop column if exists cancel_at_period_end,
  drop column if exists current_period_end,
  drop column if exists current_period_start,
  drop column if exists billing_interval,
  drop column if exists subscription_status,
  drop column if exists stripe_subscription_id,
  drop column if exists stripe_customer_id;
