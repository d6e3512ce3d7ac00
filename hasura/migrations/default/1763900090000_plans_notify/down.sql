drop trigger if exists _950_notify on public.plans;
drop function if exists public.tg_plans__notify();
