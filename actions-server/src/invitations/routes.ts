// REST surface of invitations. Thin: validate, establish the actor, call the
// service (the Hasura actions call the same functions).
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { parseBody } from '../http/handlers.ts';
import { assertMember, assertPerson, authenticate, requireTenantHost } from '../http/middleware.ts';
import { isUuid } from '../db/tx.ts';
import { InvalidTokenError } from '../auth/tokens.ts';
import { requestActor } from '../audit/actor.ts';
import { acceptInputSchema, inviteInputSchema, revokeInputSchema } from './schemas.ts';
import {
  acceptInvitation,
  inviteMember,
  listInvitations,
  resendInvitation,
  revokeInvitation,
  type AcceptActor,
  type MemberActor,
} from './service.ts';

async function memberActor(ctx: AppContext, req: Request): Promise<MemberActor> {
  const tenantId = req.params['id'];
  if (typeof tenantId !== 'string' || !isUuid(tenantId)) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  const role = await assertMember(ctx, req, tenantId, 'admin');
  // Invitations name who sent them: an API key invites nobody.
  return { ...requestActor(req), tenantId, userId: assertPerson(req), role };
}

/**
 * The invitee is usually not a member of this tenant yet, so a token of any
 * tenant is accepted as proof of who they are (the usual authenticate() refuses
 * a token of another tenant on a tenant address). No token: anonymous.
 */
function acceptingUser(ctx: AppContext, req: Request): string | undefined {
  const header = req.get('authorization');
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new AppError('INVALID_TOKEN', 'Authorization header must be "Bearer <token>"');
  try {
    return ctx.tokens.verify(match[1]).userId;
  } catch (err) {
    if (err instanceof InvalidTokenError) throw new AppError('INVALID_TOKEN', 'The token is invalid or expired');
    throw err;
  }
}

export function invitationRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.post('/api/tenants/:id/invitations', auth, async (req, res) => {
    const input = parseBody(inviteInputSchema, req.body);
    res.status(201).json(await inviteMember(ctx, await memberActor(ctx, req), input));
  });

  router.get('/api/tenants/:id/invitations', auth, async (req, res) => {
    res.json(await listInvitations(ctx, await memberActor(ctx, req)));
  });

  router.delete('/api/tenants/:id/invitations/:invitationId', auth, async (req, res) => {
    const input = parseBody(revokeInputSchema, { invitationId: req.params['invitationId'] }, 'invitation id');
    res.json(await revokeInvitation(ctx, await memberActor(ctx, req), input));
  });

  router.post('/api/tenants/:id/invitations/:invitationId/resend', auth, async (req, res) => {
    const input = parseBody(revokeInputSchema, { invitationId: req.params['invitationId'] }, 'invitation id');
    res.json(await resendInvitation(ctx, await memberActor(ctx, req), input));
  });

  // Accepting may hash or verify a password: throttled per address like a sign-up (the token names no account).
  router.post(
    '/api/invitations/accept',
    ctx.authThrottle.middleware('signup', () => undefined),
    requireTenantHost(),
    async (req, res) => {
      const input = parseBody(acceptInputSchema, req.body);
      const actor: AcceptActor = { ...requestActor(req), tenantId: req.tenant!.id, userId: acceptingUser(ctx, req) };
      res.json(await acceptInvitation(ctx, actor, input));
    },
  );

  return router;
}
