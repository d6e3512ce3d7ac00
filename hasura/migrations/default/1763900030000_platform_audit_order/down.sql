drop index if exists public.platform_audit_logs_created_at_idx;
drop index if exists public.tenant_audit_logs_platform_order_idx;
