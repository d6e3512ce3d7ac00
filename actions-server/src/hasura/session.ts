// Who is calling, as Hasura says (session variables of an action or event) or
// as the database says (membership and platform-admin flag). Roles from a token
// or a session are capped by the database, because a token outlives a demotion.
import { z } from 'zod';
import { AppError } from '../core/errors.ts';
import type { MemberActor } from '../core/actor.ts';
import { isUuid, type Pool } from '../db/tx.ts';
import { PLATFORM_ADMIN_ROLE, roleRank, type TenantRole } from '../auth/tokens.ts';
import { HASURA_ADMIN_ROLE, tenantRoleOf } from './roles.ts';
import { apiKeyStanding } from '../apikeys/verify.ts';

/** Hasura sends lower-cased `x-hasura-*` keys with string values; lower-case again to be safe. */
export const sessionVariablesSchema = z
  .record(z.string(), z.string())
  .transform((vars) => Object.fromEntries(Object.entries(vars).map(([k, v]) => [k.toLowerCase(), v])));

export interface HasuraSession {
  role: string;
  userId: string | undefined;
  tenantId: string | undefined;
  /** The login session behind the token (checked live on every action). */
  sessionId?: string | undefined;
  /** Set when the caller is a tenant API key. */
  apiKeyId?: string | undefined;
}

const uuidOrUndefined = (value: string | undefined): string | undefined =>
  value !== undefined && isUuid(value) ? value.toLowerCase() : undefined;

export function parseSession(vars: Record<string, string>): HasuraSession {
  return {
    role: vars['x-hasura-role'] ?? '',
    userId: uuidOrUndefined(vars['x-hasura-user-id']),
    tenantId: uuidOrUndefined(vars['x-hasura-tenant-id']),
    sessionId: uuidOrUndefined(vars['x-hasura-session-id']),
    apiKeyId: uuidOrUndefined(vars['x-hasura-api-key-id']),
  };
}

export interface IdentityStanding {
  /** Role in the tenant asked about; null when not a member (or no tenant was asked about). */
  tenantRole: TenantRole | null;
  isPlatformAdmin: boolean;
  /** The session named is neither revoked nor expired (true when none was named). */
  sessionLive: boolean;
}

/**
 * One statement as the owner, no transaction: this is the auth webhook's hot
 * path (every GraphQL request), and both ids come from a verified token and the
 * resolved host, never from the client. Undefined when the identity is gone.
 */
export async function identityStanding(
  pool: Pool,
  userId: string,
  tenantId: string | null,
  sessionId?: string,
): Promise<IdentityStanding | undefined> {
  // No cache: a removal, a demotion or a logout must be seen by the next request.
  const { rows } = await pool.query<{ role: TenantRole | null; is_platform_admin: boolean; live: boolean }>(
    `select m.role, i.is_platform_admin,
            ($3::uuid is null or exists (select 1 from public.auth_sessions s
                                          where s.id = $3 and s.identity_id = i.id
                                            and s.revoked_at is null and s.expires_at > now())) as live
       from public.identities i
       left join public.memberships m on m.identity_id = i.id and m.tenant_id = $2
      where i.id = $1`,
    [userId, tenantId, sessionId ?? null],
  );
  const row = rows[0];
  return row ? { tenantRole: row.role, isPlatformAdmin: row.is_platform_admin, sessionLive: row.live } : undefined;
}

/** The lower of two tenant roles. */
export function lowerRole(a: TenantRole, b: TenantRole): TenantRole {
  return roleRank(a) <= roleRank(b) ? a : b;
}

/** An action on behalf of a tenant member with at least `min` (session role capped by the database). */
export async function requireMember(pool: Pool, session: HasuraSession, min: TenantRole): Promise<MemberActor> {
  const sessionRole = tenantRoleOf(session.role);
  const { tenantId, userId } = session;
  if (!sessionRole || !tenantId || !userId)
    throw new AppError('FORBIDDEN', 'Only members of a tenant may do this; sign in on the tenant address');
  let current: TenantRole;
  if (session.apiKeyId) {
    const key = await apiKeyStanding(pool, session.apiKeyId, tenantId);
    if (!key) throw new AppError('UNAUTHENTICATED', 'This API key is revoked or expired');
    current = key;
  } else {
    const standing = await identityStanding(pool, userId, tenantId, session.sessionId);
    if (standing && !standing.sessionLive) throw new AppError('SESSION_ENDED', 'This session has ended; sign in again');
    if (!standing?.tenantRole) throw new AppError('FORBIDDEN', 'You are no longer a member of this tenant');
    current = standing.tenantRole;
  }
  const role = lowerRole(sessionRole, current);
  if (roleRank(role) < roleRank(min)) throw new AppError('FORBIDDEN', `This needs the ${min} role or higher`);
  return { tenantId, userId, role };
}

/** Platform operations: a platform administrator (still one in the database), or Hasura's admin (admin secret). */
export async function requirePlatformOperator(pool: Pool, session: HasuraSession): Promise<void> {
  if (session.role === HASURA_ADMIN_ROLE) return;
  if (session.role === PLATFORM_ADMIN_ROLE && session.userId) {
    const standing = await identityStanding(pool, session.userId, null, session.sessionId);
    if (standing?.isPlatformAdmin && standing.sessionLive) return;
  }
  throw new AppError('FORBIDDEN', 'Platform administrators only');
}

/** Whether the session may choose plans that are not self-serve (platform operators). */
export async function isPlatformOperator(pool: Pool, session: HasuraSession): Promise<boolean> {
  try {
    await requirePlatformOperator(pool, session);
    return true;
  } catch (err) {
    if (err instanceof AppError && err.code === 'FORBIDDEN') return false;
    throw err;
  }
}
