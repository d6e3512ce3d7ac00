// REST surface of the audit trail: owners and admins of a tenant read its
// entries and can have its hash chain verified.
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { authenticate } from '../http/middleware.ts';
import { memberActor } from '../http/actor.ts';
import type { TenantActor } from '../core/actor.ts';
import { requireFeature } from '../entitlements/service.ts';
import { auditQuerySchema, listAuditLogs, verifyAuditChain } from './service.ts';

async function auditActor(ctx: AppContext, req: Request): Promise<TenantActor> {
  const tenantId = tenantIdParam(req);
  const actor = await memberActor(ctx, req, tenantId, 'admin');
  // The trail itself is guarded in the database (reads need the feature); this answers why.
  await requireFeature(ctx.pool, tenantId, 'audit_logs');
  return actor;
}

export function auditRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.get('/api/tenants/:id/audit', auth, async (req, res) => {
    const query = parseBody(auditQuerySchema, req.query, 'query');
    res.json(await listAuditLogs(ctx.pool, await auditActor(ctx, req), query));
  });

  router.get('/api/tenants/:id/audit/verify', auth, async (req, res) => {
    res.json(await verifyAuditChain(ctx.pool, await auditActor(ctx, req)));
  });

  return router;
}
