// The actor of a REST request, built from its verified credential only
// (core/actor.ts); db/tx.ts sets it for the transaction the audit triggers read.
import type { Request } from 'express';
import type { Actor, MemberActor, TenantActor } from '../core/actor.ts';
import type { TenantRole } from '../auth/tokens.ts';
import type { AppContext } from '../core/context.ts';
import { assertMember, assertMemberOrPlatformAdmin, assertPerson } from './middleware.ts';

/** The request's user (from the verified token, if any) or API key, address and user agent. */
export function requestActor(req: Request): Actor {
  return {
    userId: req.auth?.userId,
    ...(req.auth?.apiKeyId ? { kind: 'api_key' } : {}),
    ip: req.ip,
    userAgent: req.get('user-agent'),
  };
}

/**
 * The caller as a member of `tenantId` with at least `min` (role read from the database).
 * `person`: an API key is refused (what it would do must name a person); `billing`: see assertMember.
 */
export async function memberActor(
  ctx: AppContext,
  req: Request,
  tenantId: string,
  min: TenantRole,
  opts: { person?: boolean; billing?: boolean } = {},
): Promise<MemberActor> {
  const role = await assertMember(ctx, req, tenantId, min, { billing: opts.billing === true });
  const userId = opts.person ? assertPerson(req) : req.auth!.userId;
  return { ...requestActor(req), tenantId, userId, role };
}

/** A member with at least `min`, or a platform administrator: who may read a tenant's records. */
export async function readerActor(ctx: AppContext, req: Request, tenantId: string, min: TenantRole): Promise<TenantActor> {
  const role = await assertMemberOrPlatformAdmin(ctx, req, tenantId, min);
  return { ...requestActor(req), tenantId, userId: req.auth!.userId, ...(role ? { role } : {}) };
}
