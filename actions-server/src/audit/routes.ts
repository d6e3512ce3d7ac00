// REST surface of the audit trail: owners and admins of a tenant read its
// entries, export them (CSV or JSON) and can have its hash chain verified;
// platform administrators read the platform's trail (audit/platform.ts).
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { parseBody } from '../http/handlers.ts';
import { assertMember, authenticate, requirePlatformAdmin } from '../http/middleware.ts';
import { listPlatformAudit, platformAuditQuerySchema } from './platform.ts';
import { isUuid } from '../db/tx.ts';
import { requestActor } from './actor.ts';
import { requireFeature } from '../entitlements/service.ts';
import { auditExportSchema, auditQuerySchema, exportAuditLogs, listAuditLogs, verifyAuditChain, type AuditActor } from './service.ts';

async function auditActor(ctx: AppContext, req: Request): Promise<AuditActor> {
  const tenantId = req.params['id'];
  if (typeof tenantId !== 'string' || !isUuid(tenantId)) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  await assertMember(ctx, req, tenantId, 'admin');
  // The trail itself is guarded in the database (reads need the feature); this answers why.
  await requireFeature(ctx.pool, tenantId, 'audit_logs');
  return { ...requestActor(req), tenantId, userId: req.auth!.userId };
}

export function auditRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.get('/api/tenants/:id/audit', auth, async (req, res) => {
    const query = parseBody(auditQuerySchema, req.query, 'query');
    res.json(await listAuditLogs(ctx.pool, await auditActor(ctx, req), query));
  });

  router.get('/api/audit', auth, requirePlatformAdmin(ctx), async (req, res) => {
    res.json(await listPlatformAudit(ctx.pool, parseBody(platformAuditQuerySchema, req.query, 'query')));
  });

  // A download of the filtered trail (CSV or JSON), streamed page by page.
  router.get('/api/tenants/:id/audit/export', auth, async (req, res) => {
    const query = parseBody(auditExportSchema, req.query, 'query');
    const actor = await auditActor(ctx, req);
    const chunks = exportAuditLogs(ctx.pool, actor, query);
    // Its first chunk waits for the first page: a failure before it is still a clean error answer.
    const first = await chunks.next();
    res.type(query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json; charset=utf-8');
    res.attachment(`audit-${req.tenant?.slug ?? actor.tenantId}.${query.format}`);
    if (!first.done) res.write(first.value);
    for await (const chunk of chunks) res.write(chunk);
    res.end();
  });

  router.get('/api/tenants/:id/audit/verify', auth, async (req, res) => {
    res.json(await verifyAuditChain(ctx.pool, await auditActor(ctx, req)));
  });

  return router;
}
