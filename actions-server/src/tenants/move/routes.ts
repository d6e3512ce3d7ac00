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
import { z } from 'zod';
import { tenantPathParams, type ApiDocs } from '../../http/openapi.ts';
import { isolationSchema } from '../schemas.ts';
import { MOVE_STEPS } from './records.ts';

/** The token says platform admin; the database must still say so (a token outlives a demotion). */
function assertPlatformOperator(ctx: AppContext, req: Request): Promise<void> {
  const auth = req.auth!;
  return requirePlatformOperator(ctx.access, { role: auth.role, userId: auth.userId, tenantId: undefined });
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

const isoTime = z.iso.datetime({ offset: true });
const tableSum = z.object({ rows: z.string(), checksum: z.string() }).strict();

const moveAnswer = z
  .object({
    move: z
      .object({
        id: z.uuid(),
        tenantId: z.uuid(),
        from: isolationSchema,
        to: isolationSchema,
        state: z.enum([...MOVE_STEPS, 'done', 'aborted']),
        error: z.string().nullable(),
        verification: z.record(z.string(), z.object({ source: tableSum, target: tableSum }).strict()).nullable(),
        createdAt: isoTime,
        updatedAt: isoTime,
        finishedAt: isoTime.nullable(),
      })
      .strict()
      .meta({ id: 'TenantMove', description: 'state names the next step to run, or done / aborted.' }),
  })
  .strict();

export function describeMoves(api: ApiDocs): void {
  api.area('Tenant moves', 'Moving a tenant between placement tiers online (platform admins, on the platform host).', (a) => {
    a.route({
      method: 'post',
      path: '/api/tenants/:id/move',
      summary: 'Start a move to another tier: recorded, then run in the background',
      auth: 'platformAdmin',
      params: tenantPathParams,
      body: moveTenantSchema,
      status: 202,
      response: moveAnswer,
      errors: [409],
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/move',
      summary: "The tenant's latest move and its step",
      auth: 'platformAdmin',
      params: tenantPathParams,
      response: moveAnswer,
    });
  });
}
