// REST surface of API keys (owners and admins, signed in as a person).
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { authenticate } from '../http/middleware.ts';
import { memberActor } from '../http/actor.ts';
import { apiKeyIdInputSchema, createApiKeyInputSchema } from './schemas.ts';
import { createApiKey, listApiKeys, revokeApiKey } from './service.ts';

const manager = (ctx: AppContext, req: Request) => memberActor(ctx, req, tenantIdParam(req), 'admin', { person: true });

export function apiKeyRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.post('/api/tenants/:id/api-keys', auth, async (req, res) => {
    const input = parseBody(createApiKeyInputSchema, req.body);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json(await createApiKey(ctx, await manager(ctx, req), input));
  });

  router.get('/api/tenants/:id/api-keys', auth, async (req, res) => {
    res.json(await listApiKeys(ctx, await manager(ctx, req)));
  });

  router.delete('/api/tenants/:id/api-keys/:apiKeyId', auth, async (req, res) => {
    const input = parseBody(apiKeyIdInputSchema, { apiKeyId: req.params['apiKeyId'] }, 'API key id');
    res.json(await revokeApiKey(ctx, await manager(ctx, req), input));
  });

  return router;
}
