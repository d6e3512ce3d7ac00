-- Undoes 1763900001000_limits_usage in reverse. Dropping the trigger functions
-- with CASCADE removes the _500_limits / _800_usage triggers from every tenant
-- schema; tenant data is untouched.
drop function if exists public.check_tenant_limits(uuid);
drop function if exists public.tenant_limit_report(uuid, text);
drop view if exists public.tenant_usage;
drop function if exists public.attach_tenant_triggers(name, uuid);
drop function if exists public.recount_tenant_counters(name, uuid);
drop function if exists public.tg__usage_flush() cascade;
drop function if exists public.usage_tally(text, uuid) cascade;
drop function if exists public.tg__usage() cascade;
drop function if exists public.tg__limits() cascade;
drop function if exists public.tenant_counters_open_period(uuid, text);
drop function if exists public.tenant_effective_limits(uuid);
drop table if exists public.tenant_api_calls;
drop table if exists public.tenant_usage_counters;
drop table if exists public.tenant_usage_history;
drop table if exists public.tenant_counters;
alter table public.tenant_settings drop constraint if exists tenant_settings_limit_overrides_valid;
alter table public.tenant_settings drop column if exists limit_overrides;
drop function if exists public.limit_overrides_valid(jsonb);
