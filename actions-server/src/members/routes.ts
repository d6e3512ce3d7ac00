// REST surface of member management. Thin: validate, establish the acting
// person (an API key manages nobody), call the service.
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { authenticate } from '../http/middleware.ts';
import { memberActor } from '../http/actor.ts';
import { z } from 'zod';
import { changeRoleInputSchema, identityInputSchema, listMembersInputSchema, memberViewSchema, removedMemberSchema } from './schemas.ts';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';
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

export function describeMembers(api: ApiDocs): void {
  api.area('Members', "A tenant's members: list, change a role, remove, leave, transfer ownership.", (a) => {
    const memberPath = tenantPathParams.extend({ identityId: z.uuid() });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/members',
      summary: 'The members, oldest first, a page at a time (members)',
      auth: 'caller',
      params: tenantPathParams,
      query: listMembersInputSchema,
      response: z.object({ members: z.array(memberViewSchema), nextCursor: z.string().nullable() }).strict(),
      errors: [400],
    });
    a.route({
      method: 'post',
      path: '/api/tenants/:id/members/leave',
      summary: 'Leave the tenant (the last owner transfers ownership first: 409)',
      auth: 'person',
      params: tenantPathParams,
      response: removedMemberSchema,
      errors: [409],
    });
    a.route({
      method: 'patch',
      path: '/api/tenants/:id/members/:identityId',
      summary: "Change a member's role (owners)",
      auth: 'person',
      params: memberPath,
      body: changeRoleInputSchema.omit({ identityId: true }),
      response: z.object({ member: memberViewSchema }).strict(),
      errors: [409],
    });
    a.route({
      method: 'delete',
      path: '/api/tenants/:id/members/:identityId',
      summary: "Remove a member and the person's tenant data row (owners: anyone; admins: members)",
      auth: 'person',
      params: memberPath,
      response: removedMemberSchema,
      errors: [400, 409],
    });
    a.route({
      method: 'post',
      path: '/api/tenants/:id/transfer-ownership',
      summary: 'That member becomes owner, the caller admin (owners)',
      auth: 'person',
      params: tenantPathParams,
      body: identityInputSchema,
      response: z.object({ owner: memberViewSchema, previousOwner: memberViewSchema }).strict(),
      errors: [409],
    });
  });
}
