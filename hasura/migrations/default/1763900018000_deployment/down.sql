drop table if exists public.deployment_settings;
