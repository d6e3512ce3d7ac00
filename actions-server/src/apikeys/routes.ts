// REST surface of API keys (owners and admins, signed in as a person).
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { authenticate } from '../http/middleware.ts';
import { memberActor } from '../http/actor.ts';
import { z } from 'zod';
import { apiKeyIdInputSchema, apiKeyViewSchema, createApiKeyInputSchema } from './schemas.ts';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';
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

export function describeApiKeys(api: ApiDocs): void {
  api.area('API keys', "A tenant's API keys (owners and admins, signed in as a person).", (a) => {
    a.route({
      method: 'post',
      path: '/api/tenants/:id/api-keys',
      summary: 'Create a key: the key itself is shown only in this answer',
      auth: 'person',
      params: tenantPathParams,
      body: createApiKeyInputSchema,
      status: 201,
      response: z.object({ apiKey: apiKeyViewSchema, key: z.string() }).strict(),
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/api-keys',
      summary: 'The keys: prefix, role, expiry, last use',
      auth: 'person',
      params: tenantPathParams,
      response: z.object({ apiKeys: z.array(apiKeyViewSchema) }).strict(),
    });
    a.route({
      method: 'delete',
      path: '/api/tenants/:id/api-keys/:apiKeyId',
      summary: 'Revoke a key',
      auth: 'person',
      params: tenantPathParams.extend(apiKeyIdInputSchema.shape),
      response: z.object({ apiKey: apiKeyViewSchema }).strict(),
      errors: [400],
    });
  });
}
