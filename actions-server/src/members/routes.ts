// REST surface of member management. Thin: validate, establish the acting
// person (an API key manages nobody), call the service.
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { authenticate } from '../http/middleware.ts';
import { memberActor } from '../http/actor.ts';
import { changeRoleInputSchema, identityInputSchema, listMembersInputSchema } from './schemas.ts';
import { changeRole, leaveTenant, listMembers, removeMember, transferOwnership } from './service.ts';

const actorFor = (ctx: AppContext, req: Request, opts: { person: boolean }) => memberActor(ctx, req, tenantIdParam(req), 'member', opts);

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
