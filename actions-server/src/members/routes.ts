// REST surface of member management. Thin: validate, establish the acting
// person (an API key manages nobody), call the service.
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { assertMember, assertPerson, authenticate } from '../http/middleware.ts';
import { requestActor } from '../audit/actor.ts';
import { changeRoleInputSchema, identityInputSchema, listMembersInputSchema } from './schemas.ts';
import { changeRole, leaveTenant, listMembers, removeMember, transferOwnership, type MemberActor } from './service.ts';

async function actorFor(ctx: AppContext, req: Request, opts: { person: boolean }): Promise<MemberActor> {
  const tenantId = tenantIdParam(req);
  const role = await assertMember(ctx, req, tenantId, 'member');
  const userId = opts.person ? assertPerson(req) : req.auth!.userId;
  return { ...requestActor(req), tenantId, userId, role };
}

export function memberRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.get('/api/tenants/:id/members', auth, async (req, res) => {
    const input = parseBody(listMembersInputSchema, { ...req.query }, 'query');
    res.json(await listMembers(ctx, await actorFor(ctx, req, { person: false }), input));
  });

  router.post('/api/tenants/:id/members/leave', auth, async (req, res) => {
    res.json(await leaveTenant(ctx, await actorFor(ctx, req, { person: true })));
  });

  router.patch('/api/tenants/:id/members/:identityId', auth, async (req, res) => {
    const input = parseBody(changeRoleInputSchema, { ...(req.body as object), identityId: req.params['identityId'] });
    res.json(await changeRole(ctx, await actorFor(ctx, req, { person: true }), input));
  });

  router.delete('/api/tenants/:id/members/:identityId', auth, async (req, res) => {
    const input = parseBody(identityInputSchema, { identityId: req.params['identityId'] }, 'identity id');
    res.json(await removeMember(ctx, await actorFor(ctx, req, { person: true }), input));
  });

  router.post('/api/tenants/:id/transfer-ownership', auth, async (req, res) => {
    const input = parseBody(identityInputSchema, req.body);
    res.json(await transferOwnership(ctx, await actorFor(ctx, req, { person: true }), input));
  });

  return router;
}
