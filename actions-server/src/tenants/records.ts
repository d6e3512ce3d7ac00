// The tenant as the registry stores it, and the two views callers get (their
// shapes are the response schemas in tenants/schemas.ts).
import type { z } from 'zod';
import type { isolationSchema, publicTenantSchema, tenantStatusSchema, tenantViewSchema } from './schemas.ts';

export type TenantStatus = z.infer<typeof tenantStatusSchema>;
export type Isolation = z.infer<typeof isolationSchema>;

export interface TenantRow {
  id: string;
  name: string;
  slug: string;
  status: TenantStatus;
  isolation: Isolation;
  schema_name: string | null;
  db_role: string | null;
  /** Database tier: the tenant's own database, and the variable naming its server (null: this server). */
  database_name: string | null;
  database_url_env: string | null;
  template_version: string | null;
  custom_domain: string | null;
  custom_domain_verified_at: Date | null;
  plan: string;
  trial_ends_at: Date | null;
  suspended_at: Date | null;
  cancelled_at: Date | null;
  archived_at: Date | null;
  branding: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export type TenantView = z.infer<typeof tenantViewSchema>;
export type PublicTenantView = z.infer<typeof publicTenantSchema>;

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toTenantView(row: TenantRow): TenantView {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    status: row.status,
    isolation: row.isolation,
    plan: row.plan,
    customDomain: row.custom_domain,
    customDomainVerified: row.custom_domain_verified_at !== null,
    trialEndsAt: iso(row.trial_ends_at),
    suspendedAt: iso(row.suspended_at),
    cancelledAt: iso(row.cancelled_at),
    branding: row.branding,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toPublicView(row: Pick<TenantRow, 'name' | 'slug' | 'status' | 'branding'>): PublicTenantView {
  return { name: row.name, slug: row.slug, status: row.status, branding: row.branding };
}

export function schemaNameFor(slug: string): string {
  return `tenant_${slug}`;
}

export function roleNameFor(prefix: string, slug: string): string {
  return `${prefix}tenant_${slug}`;
}

/** Database names are cluster-wide like roles, so they carry the same prefix. */
export function databaseNameFor(prefix: string, slug: string): string {
  return roleNameFor(prefix, slug);
}
