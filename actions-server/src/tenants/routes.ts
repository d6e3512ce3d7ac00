// REST surface of the tenant core (seed 000 routes). Thin: validate, authorise,
// call the service.
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { parseBody } from '../http/handlers.ts';
import { assertMember, authenticate, authenticateRequest, requirePlatformAdmin } from '../http/middleware.ts';
import { isUuid } from '../db/tx.ts';
import { requestActor } from '../audit/actor.ts';
import { createTenantSchema, domainSchema, slugSchema, updateTenantSchema } from './schemas.ts';
import { provisionDeps, provisionTenant } from './provision.ts';
import { isPlatformOperator } from '../hasura/session.ts';
import { toTenantView } from './records.ts';
import { startSession } from '../auth/sessions.ts';
import { afterSignUp } from '../auth/account.ts';
import {
  changeStatus,
  getPublicTenant,
  getTenant,
  markCustomDomainVerified,
  updateTenant,
} from './service.ts';

/** A verified platform admin's Bearer token (still one in the database); no token: false; a bad one: 401. */
async function callerIsPlatformAdmin(ctx: AppContext, req: Request): Promise<boolean> {
  if (!req.get('authorization')) return false;
  await authenticateRequest(ctx, req);
  const auth = req.auth!;
  return isPlatformOperator(ctx.pool, { role: auth.role, userId: auth.userId, tenantId: undefined });
}

function tenantIdParam(req: Request): string {
  const id = req.params['id'];
  if (typeof id !== 'string' || !isUuid(id)) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  return id;
}

export function tenantRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.post('/api/tenants/create', async (req, res) => {
    const input = parseBody(createTenantSchema, req.body);
    // Only a platform admin places a tenant (isolation, databaseUrlEnv); anyone else is refused 403.
    const placing = input.isolation !== undefined || input.databaseUrlEnv !== undefined;
    const { tenant, ownerId, createdIdentity } = await provisionTenant(provisionDeps(ctx), input, {
      platformAdmin: placing && (await callerIsPlatformAdmin(ctx, req)),
      actor: requestActor(req),
    });
    const { sessionId: _sid, ...session } = await startSession(ctx, { userId: ownerId, tenantId: tenant.id, role: 'owner', ip: req.ip, userAgent: req.get('user-agent') });
    await afterSignUp(ctx, { tenantId: tenant.id, identityId: ownerId, createdIdentity });
    ctx.log.info({ tenantId: tenant.id, userId: ownerId, slug: tenant.slug }, 'tenant created');
    res.status(201).json({ tenant: toTenantView(tenant), owner: { id: ownerId, email: input.ownerEmail }, ...session });
  });

  router.get('/api/tenants/by-slug', async (req, res) => {
    const slug = slugSchema.safeParse(req.query['slug']);
    if (!slug.success) throw new AppError('VALIDATION_FAILED', 'Query parameter slug must be a valid slug');
    res.json({ tenant: await getPublicTenant(ctx.pool, { slug: slug.data }) });
  });

  router.get('/api/tenants/by-domain', async (req, res) => {
    const domain = domainSchema.safeParse(req.query['domain']);
    if (!domain.success) throw new AppError('VALIDATION_FAILED', 'Query parameter domain must be a domain name');
    res.json({ tenant: await getPublicTenant(ctx.pool, { domain: domain.data }) });
  });

  router.get('/api/tenants/:id', auth, async (req, res) => {
    const id = tenantIdParam(req);
    await assertMember(ctx, req, id, 'member');
    res.json({ tenant: await getTenant(ctx.pool, { tenantId: id, userId: req.auth!.userId }, id) });
  });

  router.put('/api/tenants/:id', auth, async (req, res) => {
    const id = tenantIdParam(req);
    const patch = parseBody(updateTenantSchema, req.body);
    await assertMember(ctx, req, id, 'admin');
    const actor = { ...requestActor(req), tenantId: id, userId: req.auth!.userId };
    const tenant = await updateTenant(ctx.pool, actor, id, patch, { baseDomain: ctx.env.BASE_DOMAIN });
    res.json({ tenant });
  });

  // Soft delete: the tenant is cancelled, its data kept (archived after 90 days).
  router.delete('/api/tenants/:id', auth, async (req, res) => {
    const id = tenantIdParam(req);
    await assertMember(ctx, req, id, 'admin');
    res.json({ tenant: await changeStatus(ctx.pool, id, 'cancel', requestActor(req)) });
  });

  const adminAction = z.enum(['suspend', 'reactivate']);
  router.post('/api/tenants/:id/:action', auth, requirePlatformAdmin(), async (req, res) => {
    const id = tenantIdParam(req);
    const action = req.params['action'];
    if (action === 'verify-domain') {
      res.json({ tenant: await markCustomDomainVerified(ctx.pool, id, requestActor(req)) });
      return;
    }
    const parsed = adminAction.safeParse(action);
    if (!parsed.success) throw new AppError('NOT_FOUND', `No route for POST ${req.path}`);
    res.json({ tenant: await changeStatus(ctx.pool, id, parsed.data, requestActor(req)) });
  });

  return router;
}
