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
import { z } from 'zod';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';
import { domainStatusSchema } from './schemas.ts';

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

export function describeDomains(api: ApiDocs): void {
  api.area('Custom domains', "Proof of ownership of a tenant's custom domain, and the TLS proxy's question.", (a) => {
    const answer = z.object({ domain: domainStatusSchema }).strict();
    a.route({
      method: 'get',
      path: '/api/tenants/:id/domain',
      summary: "The custom domain's proof: record to publish, state, method, last and next check (owners, admins)",
      auth: 'caller',
      params: tenantPathParams,
      response: answer,
    });
    a.route({
      method: 'post',
      path: '/api/tenants/:id/domain/verify',
      summary: 'Check DNS now (owners, admins)',
      description:
        '409 DOMAIN_NOT_VERIFIED (details.reason: record_missing, token_mismatch, cname_mismatch); 502 DNS_LOOKUP_FAILED when DNS does not answer.',
      auth: 'caller',
      params: tenantPathParams,
      response: answer,
      errors: [409, 502],
    });
    a.route({
      method: 'get',
      path: '/api/internal/domains/allowed',
      summary: "A TLS proxy's on-demand question: 200 only for a verified custom domain of a tenant that is not archived",
      description: 'Answers on any Host, before tenant resolution and rate limits.',
      auth: 'anonymous',
      query: z.object({ domain: z.string() }),
      response: z.object({ domain: z.string(), allowed: z.literal(true) }).strict(),
      errors: [400],
    });
  });
}
