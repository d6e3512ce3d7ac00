// REST for online moves (platform administrators, on the platform host):
//   POST /api/tenants/:id/move {to, databaseUrlEnv?}  202 {move}: recorded and started in the background
//   GET  /api/tenants/:id/move                        200 {move}: the tenant's latest move and its step
import { Router, type Request } from 'express';
import type { AppContext } from '../../core/context.ts';
import { AppError } from '../../core/errors.ts';
import { parseBody, tenantIdParam } from '../../http/handlers.ts';
import { authenticate, requirePlatformAdmin } from '../../http/middleware.ts';
import { requestActor } from '../../http/actor.ts';
import { requirePlatformOperator } from '../../hasura/session.ts';
import { moveTenantSchema } from './schemas.ts';
import { latestMove, requestMove } from './request.ts';
import { moveDeps } from './deps.ts';
import { startMove } from './run.ts';

/** The token says platform admin; the database must still say so (a token outlives a demotion). */
function assertPlatformOperator(ctx: AppContext, req: Request): Promise<void> {
  const auth = req.auth!;
  return requirePlatformOperator(ctx.pool, { role: auth.role, userId: auth.userId, tenantId: undefined });
}

export function moveRoutes(ctx: AppContext): Router {
  const router = Router();
  const guard = [authenticate(ctx), requirePlatformAdmin(ctx)];
  const deps = moveDeps(ctx);

  router.post('/api/tenants/:id/move', ...guard, async (req, res) => {
    await assertPlatformOperator(ctx, req);
    const id = tenantIdParam(req);
    const input = parseBody(moveTenantSchema, req.body);
    const actor = requestActor(req);
    const move = await requestMove(deps, id, input, actor);
    startMove(deps, move.id, actor);
    res.status(202).json({ move });
  });

  router.get('/api/tenants/:id/move', ...guard, async (req, res) => {
    await assertPlatformOperator(ctx, req);
    const move = await latestMove(ctx.pool, tenantIdParam(req));
    if (!move) throw new AppError('NOT_FOUND', 'This tenant has not been moved');
    res.json({ move });
  });

  return router;
}
