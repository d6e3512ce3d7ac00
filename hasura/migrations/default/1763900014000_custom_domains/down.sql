drop trigger if exists _100_timestamps on public.custom_domain_verifications;
drop table if exists public.custom_domain_verifications;
