// REST surface of custom domain ownership: the tenant's status and check-now
// (owners and admins), and the proxy's certificate question (no tenant host).
import { tenantIdParam } from '../http/handlers.ts';
import { Router } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { assertMember, authenticate } from '../http/middleware.ts';
import { requestActor } from '../http/actor.ts';
import { domainSchema } from '../tenants/schemas.ts';
import { domainStatus, verifyDomainNow, type DomainDeps } from './verification.ts';

const deps = (ctx: AppContext): DomainDeps => ({ pool: ctx.pool, env: ctx.env, log: ctx.log });

export function domainRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.get('/api/tenants/:id/domain', auth, async (req, res) => {
    const id = tenantIdParam(req);
    await assertMember(ctx, req, id, 'admin');
    res.json({ domain: await domainStatus(deps(ctx), id) });
  });

  router.post('/api/tenants/:id/domain/verify', auth, async (req, res) => {
    const id = tenantIdParam(req);
    await assertMember(ctx, req, id, 'admin');
    const actor = { ...requestActor(req), userId: req.auth!.userId };
    res.json({ domain: await verifyDomainNow(deps(ctx), id, actor) });
  });

  return router;
}

/**
 * GET /api/internal/domains/allowed?domain= for a proxy with on-demand TLS
 * (Caddy's `ask`): 200 only for a verified custom domain of a tenant that is not
 * archived, 404 for anything else. Mounted before tenant resolution, so it
 * answers whatever Host the proxy uses; it tells no more than by-domain does.
 */
export function internalDomainRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get('/api/internal/domains/allowed', async (req, res) => {
    const raw = req.query['domain'];
    if (typeof raw !== 'string' || raw === '') throw new AppError('VALIDATION_FAILED', 'Query parameter domain is required');
    const domain = domainSchema.safeParse(raw.replace(/\.$/, ''));
    const tenant =
      domain.success && ctx.env.ENABLE_CUSTOM_DOMAINS ? await ctx.resolver.resolve({ kind: 'domain', domain: domain.data }) : null;
    if (!tenant || tenant.status === 'archived') throw new AppError('NOT_FOUND', 'Not a verified custom domain');
    res.json({ domain: domain.data, allowed: true });
  });
  return router;
}
