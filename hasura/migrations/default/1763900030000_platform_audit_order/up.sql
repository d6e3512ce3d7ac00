-- The platform's audit trail lists every tenant's entries and the platform's
-- own newest first (GET /api/audit); these indexes let each side be read in
-- time order from its newest entry instead of sorting the whole table.
create index if not exists tenant_audit_logs_platform_order_idx on public.tenant_audit_logs (created_at);
create index if not exists platform_audit_logs_created_at_idx on public.platform_audit_logs (created_at);
