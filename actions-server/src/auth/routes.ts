import { Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody } from '../http/handlers.ts';
import { assertServable } from '../http/middleware.ts';
import { loginSchema } from '../tenants/schemas.ts';
import { login } from './login.ts';

export function authRoutes(ctx: AppContext): Router {
  const router = Router();
  router.post('/api/auth/login', ctx.authThrottle.middleware('login'), async (req, res) => {
    const body = parseBody(loginSchema, req.body);
    if (req.tenant) assertServable(req.tenant);
    const result = await login(ctx, req.tenant ?? null, body.email, body.password);
    res.json(result);
  });
  return router;
}
