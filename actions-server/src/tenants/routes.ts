// REST surface of the tenant core (documented routes). Thin: validate, authorise,
// call the service.
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { assertMember, authenticate, authenticateRequest, requirePlatformAdmin } from '../http/middleware.ts';
import { listTenants, setPlanSchema, setTenantPlan, tenantListQuerySchema } from './directory.ts';
import { memberActor, readerActor, requestActor } from '../http/actor.ts';
import {
  createTenantSchema,
  domainSchema,
  publicTenantSchema,
  slugSchema,
  tenantViewSchema,
  tenantWithSettingsSchema,
  updateTenantSchema,
} from './schemas.ts';
import { z } from 'zod';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';
import { sessionTokensSchema } from '../auth/schemas.ts';
import { domainStatusSchema } from '../domains/schemas.ts';
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
import { changeTenantStatus, getPublicTenant, getTenant, markCustomDomainVerified, updateTenant } from './service.ts';

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
      (await isPlatformOperator(ctx.access, { role: caller.role, userId: caller.userId, tenantId: undefined }));
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
    res.json({ tenant: await getTenant(ctx.pool, await readerActor(ctx, req, id, 'member'), id) });
  });

  router.put('/api/tenants/:id', auth, async (req, res) => {
    const id = tenantIdParam(req);
    const patch = parseBody(updateTenantSchema, req.body);
    const actor = await memberActor(ctx, req, id, 'admin');
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
    res.json({ tenant: await changeTenantStatus(ctx, id, 'cancel', requestActor(req)) });
  });

  // Platform admins only: suspend and reactivate a tenant, or mark its custom domain verified by hand.
  const platformAdmin = requirePlatformAdmin(ctx);
  for (const action of ['suspend', 'reactivate'] as const) {
    router.post(`/api/tenants/:id/${action}`, auth, platformAdmin, async (req, res) => {
      res.json({ tenant: await changeTenantStatus(ctx, tenantIdParam(req), action, requestActor(req)) });
    });
  }
  router.post('/api/tenants/:id/verify-domain', auth, platformAdmin, async (req, res) => {
    res.json({ tenant: await markCustomDomainVerified(ctx.pool, tenantIdParam(req), requestActor(req)) });
  });

  return router;
}

const tenantAnswer = z.object({ tenant: tenantViewSchema }).strict();

export function describeTenants(api: ApiDocs): void {
  api.area('Tenants', 'Sign-up, the public face of a tenant, its settings and its lifecycle.', (a) => {
    a.route({
      method: 'post',
      path: '/api/tenants/create',
      summary: 'Sign up: a new tenant and its owner, signed in',
      description:
        "An email that already has an account opens another tenant only with that person's Bearer token (else 409 IDENTITY_EXISTS). " +
        'isolation and databaseUrlEnv are for platform admins (403 for anyone else).',
      auth: 'optionalPerson',
      body: createTenantSchema,
      status: 201,
      response: sessionTokensSchema.extend({ tenant: tenantViewSchema, owner: z.object({ id: z.uuid(), email: z.string() }).strict() }),
      errors: [403, 409],
    });
    for (const [by, query] of [
      ['slug', z.object({ slug: slugSchema })],
      ['domain', z.object({ domain: domainSchema })],
    ] as const) {
      a.route({
        method: 'get',
        path: `/api/tenants/by-${by}`,
        summary: `Public fields of a tenant by its ${by === 'slug' ? 'slug' : 'custom domain'}`,
        auth: 'anonymous',
        query,
        response: z.object({ tenant: publicTenantSchema }).strict(),
        errors: [400, 410],
      });
    }
    a.route({
      method: 'get',
      path: '/api/tenants',
      summary: 'Every tenant: search (q), filters status, plan and isolation, sort and order, keyset pages (platform admins)',
      auth: 'platformAdmin',
      query: tenantListQuerySchema,
      response: z.object({ tenants: z.array(tenantViewSchema), nextCursor: z.string().nullable() }).strict(),
      errors: [400],
    });
    a.route({
      method: 'put',
      path: '/api/tenants/:id/plan',
      summary: "Set a tenant's plan by hand, without Stripe (platform admins; audited)",
      auth: 'platformAdmin',
      params: tenantPathParams,
      body: setPlanSchema,
      response: z.object({ tenant: tenantViewSchema }).strict(),
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id',
      summary: 'The tenant with its settings (members)',
      auth: 'caller',
      params: tenantPathParams,
      response: z.object({ tenant: tenantWithSettingsSchema }).strict(),
    });
    a.route({
      method: 'put',
      path: '/api/tenants/:id',
      summary: 'Change name, branding, settings or custom domain (owners, admins)',
      description:
        'A new domain comes back with domainVerification (the TXT record to publish); removed CSS is listed in brandingWarnings.',
      auth: 'caller',
      params: tenantPathParams,
      body: updateTenantSchema,
      response: z
        .object({
          tenant: tenantWithSettingsSchema,
          domainVerification: domainStatusSchema.optional(),
          brandingWarnings: z.array(z.string()).optional(),
        })
        .strict(),
      errors: [409],
    });
    a.route({
      method: 'delete',
      path: '/api/tenants/:id',
      summary: 'Close the tenant (owners): cancelled, data kept, archived after 90 days',
      auth: 'caller',
      params: tenantPathParams,
      response: tenantAnswer,
      errors: [409],
    });
    for (const [action, summary] of [
      ['suspend', 'Suspend a tenant'],
      ['reactivate', 'Reactivate a suspended tenant'],
      ['verify-domain', "Mark the tenant's custom domain verified without DNS (audited as manual)"],
    ] as const) {
      a.route({
        method: 'post',
        path: `/api/tenants/:id/${action}`,
        summary: `${summary} (platform admins)`,
        auth: 'platformAdmin',
        params: tenantPathParams,
        response: tenantAnswer,
        errors: [409],
      });
    }
  });
}
