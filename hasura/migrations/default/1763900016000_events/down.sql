-- Undoes 1763900016000_events in reverse.
drop trigger if exists _950_webhooks on public.tenant_invitations;
drop trigger if exists _950_webhooks on public.memberships;
drop trigger if exists _950_webhooks on public.tenant_settings;
drop trigger if exists _950_webhooks on public.tenants;

drop table if exists public.connector_events;
drop table if exists public.analytics_events;
drop table if exists public.webhook_delivery_attempts;
drop table if exists public.webhook_deliveries;
drop table if exists public.webhook_events;
drop table if exists public.webhook_endpoints;
drop table if exists public.stripe_meter_reports;
drop table if exists public.usage_meter_totals;
drop table if exists public.usage_events;
drop table if exists public.tenant_meter_caps;
drop table if exists public.plan_meters;
drop table if exists public.meters;

drop function if exists public.tg_usage_events__audit_correction();
drop function if exists public.tg_usage_meter_totals__thresholds();
drop function if exists public.tg_tenant_invitations__webhooks();
drop function if exists public.tg_memberships__webhooks();
drop function if exists public.tg_tenant_settings__webhooks();
drop function if exists public.tg_tenants__webhooks();
drop function if exists public.webhook_emit(uuid, text, jsonb);
drop function if exists public.tenant_meter_cap(uuid, text);
