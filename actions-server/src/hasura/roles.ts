// Hasura role names. A tenant's `admin` cannot be called `admin` in Hasura:
// that name is Hasura's built-in superuser role (no permission checks at all,
// and the RLS policies let `admin` sessions write every tenant), so tenant
// admins are `tenant_admin` in every session, permission and action.
import { hasuraRoleName, TENANT_ROLES, tenantRoleOf, type HasuraTenantRole } from '../auth/tokens.ts';

export { tenantRoleOf, type HasuraTenantRole };
export const toHasuraRole = hasuraRoleName;

export const ANONYMOUS_ROLE = 'anonymous';
/** Hasura's own superuser role (admin secret, console). */
export const HASURA_ADMIN_ROLE = 'admin';

/** The tenant roles under their Hasura names, most privileged first. */
export const HASURA_TENANT_ROLES: readonly HasuraTenantRole[] = TENANT_ROLES.map((r) => hasuraRoleName(r) as HasuraTenantRole);
