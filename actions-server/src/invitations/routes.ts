// REST surface of invitations. Thin: validate, establish the actor, call the
// service (the Hasura actions call the same functions).
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { authenticate, requireTenantHost } from '../http/middleware.ts';
import { InvalidTokenError } from '../auth/tokens.ts';
import { memberActor, requestActor } from '../http/actor.ts';
import { z } from 'zod';
import { acceptInputSchema, invitationViewSchema, inviteInputSchema, revokeInputSchema } from './schemas.ts';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';
import { sessionTokensSchema } from '../auth/schemas.ts';
import { acceptInvitation, inviteMember, listInvitations, resendInvitation, revokeInvitation, type AcceptActor } from './service.ts';

// Invitations name who sent them: an API key invites nobody.
const inviter = (ctx: AppContext, req: Request) => memberActor(ctx, req, tenantIdParam(req), 'admin', { person: true });

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
    res.status(201).json(await inviteMember(ctx, await inviter(ctx, req), input));
  });

  router.get('/api/tenants/:id/invitations', auth, async (req, res) => {
    res.json(await listInvitations(ctx, await inviter(ctx, req)));
  });

  router.delete('/api/tenants/:id/invitations/:invitationId', auth, async (req, res) => {
    const input = parseBody(revokeInputSchema, { invitationId: req.params['invitationId'] }, 'invitation id');
    res.json(await revokeInvitation(ctx, await inviter(ctx, req), input));
  });

  router.post('/api/tenants/:id/invitations/:invitationId/resend', auth, async (req, res) => {
    const input = parseBody(revokeInputSchema, { invitationId: req.params['invitationId'] }, 'invitation id');
    res.json(await resendInvitation(ctx, await inviter(ctx, req), input));
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

export function describeInvitations(api: ApiDocs): void {
  api.area('Invitations', 'Invite people to a tenant; the invitee accepts on the tenant host.', (a) => {
    a.route({
      method: 'post',
      path: '/api/tenants/:id/invitations',
      summary: 'Invite an address (owners, admins; only owners invite admins): the token is shown once and mailed',
      auth: 'person',
      params: tenantPathParams,
      body: inviteInputSchema,
      status: 201,
      response: z.object({ invitation: invitationViewSchema, token: z.string() }).strict(),
      errors: [409],
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/invitations',
      summary: 'Pending invitations (owners, admins)',
      auth: 'person',
      params: tenantPathParams,
      response: z.object({ invitations: z.array(invitationViewSchema) }).strict(),
    });
    a.route({
      method: 'delete',
      path: '/api/tenants/:id/invitations/:invitationId',
      summary: 'Revoke an invitation (owners, admins)',
      auth: 'person',
      params: tenantPathParams.extend({ invitationId: z.uuid() }),
      response: z.object({ invitation: invitationViewSchema }).strict(),
      errors: [400, 409, 410],
    });
    a.route({
      method: 'post',
      path: '/api/tenants/:id/invitations/:invitationId/resend',
      summary: 'Send an open or expired invitation again with a new token and expiry (owners, admins)',
      auth: 'person',
      params: tenantPathParams.extend({ invitationId: z.uuid() }),
      response: z.object({ invitation: invitationViewSchema, token: z.string() }).strict(),
      errors: [400, 409, 410],
    });
    a.route({
      method: 'post',
      path: '/api/invitations/accept',
      summary:
        'Accept an invitation on its tenant host: with a token of the invitee, their password, or {name, password} for a new account',
      auth: 'optionalPerson',
      tenantHost: true,
      body: acceptInputSchema,
      response: sessionTokensSchema.extend({ tenantId: z.uuid(), userId: z.uuid(), role: z.enum(['admin', 'member']) }),
      errors: [403, 409, 410],
    });
  });
}
