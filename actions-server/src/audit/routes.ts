// REST surface of the audit trail: owners and admins of a tenant read its
// entries, export them (CSV or JSON) and can have its hash chain verified;
// platform administrators read the platform's trail (audit/platform.ts).
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { parseBody, tenantIdParam } from '../http/handlers.ts';
import { authenticate, requirePlatformAdmin } from '../http/middleware.ts';
import { listPlatformAudit, platformAuditQuerySchema } from './platform.ts';
import { memberActor } from '../http/actor.ts';
import type { TenantActor } from '../core/actor.ts';
import { requireFeature } from '../entitlements/service.ts';
import { auditExportSchema, auditQuerySchema, exportAuditLogs, listAuditLogs, verifyAuditChain } from './service.ts';
import { z } from 'zod';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';

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

const auditValues = z.record(z.string(), z.unknown()).nullable();
const auditEntrySchema = z
  .object({
    seq: z.number().int(),
    action: z.string(),
    entityType: z.string(),
    entityId: z.string().nullable(),
    actor: z.object({ kind: z.string(), id: z.string().nullable(), role: z.string().nullable() }).strict(),
    oldValues: auditValues,
    newValues: auditValues,
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    createdAt: z.iso.datetime({ offset: true }),
    prevHash: z.string().nullable(),
    hash: z.string(),
  })
  .strict();

export function describeAudit(api: ApiDocs): void {
  api.area('Audit trail', "A tenant's audit trail and its hash chain (owners, admins; the audit_logs feature).", (a) => {
    a.route({
      method: 'get',
      path: '/api/tenants/:id/audit',
      summary: 'Entries, newest first, a page at a time; filters action, from, to',
      auth: 'caller',
      params: tenantPathParams,
      query: auditQuerySchema,
      response: z
        .object({
          entries: z.array(auditEntrySchema.meta({ id: 'AuditEntry' })),
          nextCursor: z.string().nullable(),
        })
        .strict(),
      errors: [400],
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/audit/export',
      summary: 'The filtered trail as a download, newest first: CSV (format=csv, the default) or a JSON array (format=json)',
      auth: 'caller',
      params: tenantPathParams,
      query: auditExportSchema,
      response: {
        contentType: 'text/csv',
        description: 'CSV with a header row, or with format=json a JSON array of entries',
        json: z.array(auditEntrySchema),
      },
      errors: [400],
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/audit/verify',
      summary: 'Check the hash chain',
      auth: 'caller',
      params: tenantPathParams,
      response: z
        .object({ ok: z.boolean(), brokenSeq: z.number().int().nullable(), checked: z.number().int(), reason: z.string().nullable() })
        .strict(),
    });
    a.route({
      method: 'get',
      path: '/api/audit',
      summary: "The platform's trail and every tenant's together, newest first, without personal values (platform admins)",
      auth: 'platformAdmin',
      query: platformAuditQuerySchema,
      response: z
        .object({
          entries: z.array(
            auditEntrySchema.omit({ seq: true, ip: true, userAgent: true, prevHash: true, hash: true }).extend({
              source: z.enum(['platform', 'tenant']),
              tenantId: z.uuid().nullable(),
              tenantSlug: z.string().nullable(),
              seq: z.string(),
            }),
          ),
          nextCursor: z.string().nullable(),
        })
        .strict(),
      errors: [400],
    });
  });
}
