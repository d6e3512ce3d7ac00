// Who is calling, as Hasura says (session variables of an action or event),
// checked against the database (auth/membership.ts, the access cache): roles
// from a token or a session are capped by it, because a token outlives a demotion.
import { z } from 'zod';
import { AppError } from '../core/errors.ts';
import type { MemberActor } from '../core/actor.ts';
import { isUuid } from '../db/tx.ts';
import { PLATFORM_ADMIN_ROLE, type TenantRole } from '../auth/tokens.ts';
import type { AccessCache } from '../auth/access.ts';
import { currentMemberRole } from '../auth/membership.ts';
import { HASURA_ADMIN_ROLE, tenantRoleOf } from './roles.ts';

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

/** An action on behalf of a tenant member with at least `min` (session role capped by the database). */
export async function requireMember(access: AccessCache, session: HasuraSession, min: TenantRole): Promise<MemberActor> {
  const sessionRole = tenantRoleOf(session.role);
  const { tenantId, userId } = session;
  if (!sessionRole || !tenantId || !userId)
    throw new AppError('FORBIDDEN', 'Only members of a tenant may do this; sign in on the tenant address');
  const caller = { userId, tenantId, role: sessionRole, sessionId: session.sessionId, apiKeyId: session.apiKeyId };
  return { tenantId, userId, role: await currentMemberRole(access, caller, min) };
}

/** Platform operations: a platform administrator (still one in the database), or Hasura's admin (admin secret). */
export async function requirePlatformOperator(access: AccessCache, session: HasuraSession): Promise<void> {
  if (session.role === HASURA_ADMIN_ROLE) return;
  if (session.role === PLATFORM_ADMIN_ROLE && session.userId) {
    const standing = await access.standing(session.userId, null, session.sessionId);
    if (standing?.isPlatformAdmin && standing.sessionLive) return;
  }
  throw new AppError('FORBIDDEN', 'Platform administrators only');
}

/** Whether the session may choose plans that are not self-serve (platform operators). */
export async function isPlatformOperator(access: AccessCache, session: HasuraSession): Promise<boolean> {
  try {
    await requirePlatformOperator(access, session);
    return true;
  } catch (err) {
    if (err instanceof AppError && err.code === 'FORBIDDEN') return false;
    throw err;
  }
}
