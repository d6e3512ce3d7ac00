-- Undo the audit trail and invitations in reverse. The audit rows go with the
-- table: run this only when the trail is meant to be discarded.
drop trigger if exists _900_audit on public.tenant_invitations;
drop trigger if exists _900_audit on public.tenant_settings;
drop trigger if exists _900_audit on public.memberships;
drop trigger if exists _900_audit on public.tenants;
drop function if exists public.expire_invitations();
drop function if exists public.create_invited_identity(uuid, uuid, text, text);
drop function if exists public.verify_audit_chain(uuid);
drop function if exists public.tg__audit();
drop function if exists public.audit_append(uuid, text, text, text, jsonb, jsonb);
drop function if exists public.audit_redact(jsonb, text[]);
drop function if exists public.audit_row_hash(public.tenant_audit_logs);
drop table if exists public.tenant_invitations;
drop table if exists public.tenant_audit_heads;
drop table if exists public.tenant_audit_logs;
drop function if exists public.tg__append_only();
