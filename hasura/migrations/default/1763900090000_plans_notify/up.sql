-- Plan edits reach every actions server at once: the in-process cache of plan
-- limits (limits/service.ts) is emptied on this notification instead of waiting
-- for its time-to-live, so rate limits and the API quota follow an operator's
-- change to a plan within a second. One notification per statement: a plan
-- edit is rare and empties the whole cache, whichever plan it touched.
create or replace function public.tg_plans__notify()
returns trigger
language plpgsql
set search_path = pg_catalog, public, pg_temp
as $$
begin
  perform pg_notify('tenant_changed', '{"plans":true}');
  return null;
end
$$;

drop trigger if exists _950_notify on public.plans;
create trigger _950_notify after insert or update or delete or truncate on public.plans
  for each statement execute function public.tg_plans__notify();
