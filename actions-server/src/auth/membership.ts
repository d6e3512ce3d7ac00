// The one membership check, for REST (http/middleware.ts), the Hasura auth
// webhook and actions (hasura/): the caller's role in a tenant is the role its
// credential claims capped by the role the database holds now, because a token
// outlives a demotion (ARCHITECTURE.md §3 step 3). The standing comes from the
// access cache, which a change ends within a second.
import { AppError } from '../core/errors.ts';
import type { AccessCache } from './access.ts';
import { roleRank, type TenantRole } from './tokens.ts';

export interface TenantCaller {
  /** The person, or the API key's id. */
  userId: string;
  tenantId: string;
  /** The role the credential claims (a token's, a session's, a key's). */
  role: TenantRole;
  sessionId?: string | undefined;
  /** Set when the caller is a tenant API key. */
  apiKeyId?: string | undefined;
  /** The key's role when it was read live for this very request (no second read). */
  keyRole?: TenantRole | undefined;
}

/** The lower of two tenant roles. */
export function lowerRole(a: TenantRole, b: TenantRole): TenantRole {
  return roleRank(a) <= roleRank(b) ? a : b;
}

/**
 * The caller's role in its tenant now, at least `min`. Throws SESSION_ENDED
 * (a logged-out or revoked session), UNAUTHENTICATED (a revoked or expired
 * key) or FORBIDDEN (no longer a member, or below `min`).
 */
export async function currentMemberRole(access: AccessCache, caller: TenantCaller, min: TenantRole = 'member'): Promise<TenantRole> {
  let current: TenantRole | undefined;
  if (caller.apiKeyId) {
    current = caller.keyRole ?? (await access.apiKeyRole(caller.apiKeyId, caller.tenantId));
    if (!current) throw new AppError('UNAUTHENTICATED', 'This API key is revoked or expired');
  } else {
    const standing = await access.standing(caller.userId, caller.tenantId, caller.sessionId);
    if (standing && !standing.sessionLive) throw new AppError('SESSION_ENDED', 'This session has ended; sign in again');
    current = standing?.tenantRole ?? undefined;
    if (!current) throw new AppError('FORBIDDEN', 'You are no longer a member of this tenant');
  }
  const role = lowerRole(caller.role, current);
  if (roleRank(role) < roleRank(min)) throw new AppError('FORBIDDEN', `This needs the ${min} role or higher`);
  return role;
}
