import { Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';

export function healthRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get('/api/health', async (req, res) => {
    if (req.tenant) {
      res.json({ status: 'ok', tenant: { slug: req.tenant.slug, status: req.tenant.status } });
      return;
    }
    try {
      await ctx.pool.query('select 1');
    } catch {
      throw new AppError('SERVICE_UNAVAILABLE', 'Database unreachable');
    }
    res.json({ status: 'ok', database: 'up' });
  });
  return router;
}
