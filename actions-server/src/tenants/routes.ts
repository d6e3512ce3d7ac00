// REST surface of the tenant core (documented routes). Thin: validate, authorise,
// call the service.
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { assertMember, assertMemberOrPlatformAdmin, authenticate, authenticateRequest, requirePlatformAdmin } from '../http/middleware.ts';
import { listTenants, setPlanSchema, setTenantPlan, tenantListQuerySchema } from './directory.ts';
import { requestActor } from '../audit/actor.ts';
import { createTenantSchema, domainSchema, slugSchema, updateTenantSchema } from './schemas.ts';
import { provisionDeps, provisionTenant } from './provision.ts';
import { isPlatformOperator } from '../hasura/session.ts';
import { toTenantView, type PublicTenantView } from './records.ts';
import { publicBranding } from '../branding/service.ts';
import { domainStatus } from '../domains/verification.ts';
import type { VerifiedToken } from '../auth/tokens.ts';
import { startSession } from '../auth/sessions.ts';
import { afterSignUp } from '../auth/account.ts';

const ownerEmailOf = (req: Request): string | undefined => {
  const email: unknown = (req.body as Record<string, unknown> | undefined)?.['ownerEmail'];
  return typeof email === 'string' && email.length <= 254 ? email.trim().toLowerCase() : undefined;
};
import { changeStatus, getPublicTenant, getTenant, markCustomDomainVerified, updateTenant } from './service.ts';

/** The verified Bearer credential of a sign-up, if one was sent (a bad one: 401). */
async function signUpCaller(ctx: AppContext, req: Request): Promise<VerifiedToken | undefined> {
  if (!req.get('authorization')) return undefined;
  await authenticateRequest(ctx, req);
  return req.auth;
}

export function tenantRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);
  const publicFace = (t: PublicTenantView): PublicTenantView => ({ ...t, branding: publicBranding(t.branding, ctx.env) });

  router.post('/api/tenants/create', ctx.authThrottle.middleware('signup', ownerEmailOf), async (req, res) => {
    const input = parseBody(createTenantSchema, req.body);
    const caller = await signUpCaller(ctx, req);
    // Only a platform admin (still one in the database) places a tenant (isolation, databaseUrlEnv); anyone else is refused 403.
    const placing = input.isolation !== undefined || input.databaseUrlEnv !== undefined;
    const platformAdmin =
      placing &&
      caller !== undefined &&
      (await isPlatformOperator(ctx.pool, { role: caller.role, userId: caller.userId, tenantId: undefined }));
    const { tenant, ownerId, createdIdentity } = await provisionTenant(provisionDeps(ctx), input, {
      platformAdmin,
      actor: requestActor(req),
      signedInAs: caller?.userId,
    });
    const { sessionId: _sid, ...session } = await startSession(ctx, {
      userId: ownerId,
      tenantId: tenant.id,
      role: 'owner',
      ip: req.ip,
      userAgent: req.get('user-agent'),
    });
    await afterSignUp(ctx, { tenantId: tenant.id, identityId: ownerId, createdIdentity });
    ctx.log.info({ tenantId: tenant.id, userId: ownerId, slug: tenant.slug }, 'tenant created');
    res.status(201).json({ tenant: toTenantView(tenant), owner: { id: ownerId, email: input.ownerEmail }, ...session });
  });

  router.get('/api/tenants/by-slug', async (req, res) => {
    const slug = slugSchema.safeParse(req.query['slug']);
    if (!slug.success) throw new AppError('VALIDATION_FAILED', 'Query parameter slug must be a valid slug');
    res.json({ tenant: publicFace(await getPublicTenant(ctx.pool, { slug: slug.data })) });
  });

  router.get('/api/tenants/by-domain', async (req, res) => {
    const domain = domainSchema.safeParse(req.query['domain']);
    if (!domain.success) throw new AppError('VALIDATION_FAILED', 'Query parameter domain must be a domain name');
    res.json({ tenant: publicFace(await getPublicTenant(ctx.pool, { domain: domain.data })) });
  });

  // Every tenant, for platform administrators: search, filters, sort, keyset pages.
  router.get('/api/tenants', auth, requirePlatformAdmin(ctx), async (req, res) => {
    res.json(await listTenants(ctx.pool, parseBody(tenantListQuerySchema, req.query, 'query')));
  });

  router.get('/api/tenants/:id', auth, async (req, res) => {
    const id = tenantIdParam(req);
    await assertMemberOrPlatformAdmin(ctx, req, id, 'member');
    res.json({ tenant: await getTenant(ctx.pool, { tenantId: id, userId: req.auth!.userId }, id) });
  });

  router.put('/api/tenants/:id', auth, async (req, res) => {
    const id = tenantIdParam(req);
    const patch = parseBody(updateTenantSchema, req.body);
    await assertMember(ctx, req, id, 'admin');
    const actor = { ...requestActor(req), tenantId: id, userId: req.auth!.userId };
    const { brandingWarnings, ...tenant } = await updateTenant(ctx.pool, actor, id, patch, { env: ctx.env });
    // A new domain comes back with the DNS record that proves it.
    const domainVerification = patch.customDomain ? await domainStatus({ pool: ctx.pool, env: ctx.env, log: ctx.log }, id) : undefined;
    res.json({ tenant, ...(domainVerification ? { domainVerification } : {}), ...(brandingWarnings ? { brandingWarnings } : {}) });
  });

  // A plan set by hand (custom and manual contracts): no Stripe, audited in the tenant's trail.
  router.put('/api/tenants/:id/plan', auth, requirePlatformAdmin(ctx), async (req, res) => {
    const id = tenantIdParam(req);
    const { plan } = parseBody(setPlanSchema, req.body);
    res.json({ tenant: await setTenantPlan(ctx.pool, id, plan, requestActor(req)) });
  });

  // Soft delete: the tenant is cancelled, its data kept (archived after 90 days). Owners only.
  router.delete('/api/tenants/:id', auth, async (req, res) => {
    const id = tenantIdParam(req);
    await assertMember(ctx, req, id, 'owner');
    res.json({ tenant: await changeStatus(ctx.pool, id, 'cancel', requestActor(req)) });
  });

  const adminAction = z.enum(['suspend', 'reactivate']);
  router.post('/api/tenants/:id/:action', auth, requirePlatformAdmin(ctx), async (req, res) => {
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
