// REST surface of data portability: tenant exports (owners), the signed
// download of an archive, and a person's own export and erasure (plus the
// platform admin's erase of anyone).
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Router, type Request } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { assertMember, authenticate } from '../http/middleware.ts';
import { isUuid } from '../db/tx.ts';
import { requestActor } from '../http/actor.ts';
import { isPlatformOperator } from '../hasura/session.ts';
import { archivePath, checkLink, getExport, requestExport, toExportView } from './exports.ts';
import { erasePerson, exportPerson } from './people.ts';
import { z } from 'zod';
import { tenantPathParams, type ApiDocs } from '../http/openapi.ts';

function uuidParam(req: Request, name: string, code: 'TENANT_NOT_FOUND' | 'NOT_FOUND' = 'NOT_FOUND'): string {
  const v = req.params[name];
  if (typeof v !== 'string' || !isUuid(v)) throw new AppError(code, code === 'TENANT_NOT_FOUND' ? 'Tenant not found' : `No such ${name}`);
  return v.toLowerCase();
}

/** The caller's identity, refused once erased (a token outlives its person). */
async function livePerson(ctx: AppContext, req: Request): Promise<string> {
  const id = req.auth!.userId;
  const { rows } = await ctx.pool.query<{ erased: boolean }>(
    'select erased_at is not null as erased from public.identities where id = $1',
    [id],
  );
  if (!rows[0] || rows[0].erased) throw new AppError('INVALID_TOKEN', 'The token is invalid or expired');
  return id;
}

export function portabilityRoutes(ctx: AppContext): Router {
  const router = Router();
  const auth = authenticate(ctx);

  router.post('/api/tenants/:id/exports', auth, async (req, res) => {
    const tenantId = uuidParam(req, 'id', 'TENANT_NOT_FOUND');
    await assertMember(ctx, req, tenantId, 'owner');
    const row = await requestExport(ctx.pool, tenantId, req.auth!.userId);
    res.status(202).json({ export: toExportView(row) });
  });

  router.get('/api/tenants/:id/exports/:exportId', auth, async (req, res) => {
    const tenantId = uuidParam(req, 'id', 'TENANT_NOT_FOUND');
    const exportId = uuidParam(req, 'exportId');
    await assertMember(ctx, req, tenantId, 'owner');
    res.json({ export: toExportView(await getExport(ctx.pool, tenantId, exportId), ctx.env) });
  });

  // The link is the credential (signed, expiring): no token needed, so a browser can follow it.
  router.get('/api/exports/:tenantId/:exportId/archive', async (req, res) => {
    const tenantId = uuidParam(req, 'tenantId');
    const exportId = uuidParam(req, 'exportId');
    checkLink(ctx.env, tenantId, exportId, req.query['expires'], req.query['sig']);
    const row = await getExport(ctx.pool, tenantId, exportId);
    if (row.status !== 'done' || !row.file_name) throw new AppError('TENANT_GONE', 'This archive is no longer available');
    const file = archivePath(ctx.env, row.file_name);
    const { size } = await stat(file).catch(() => {
      throw new AppError('TENANT_GONE', 'This archive is no longer available');
    });
    res.setHeader('Content-Type', 'application/gzip');
    res.setHeader('Content-Length', String(size));
    res.setHeader('Content-Disposition', `attachment; filename="${row.file_name}"`);
    res.setHeader('Cache-Control', 'no-store');
    if (row.sha256) res.setHeader('Digest', `sha-256=${Buffer.from(row.sha256, 'hex').toString('base64')}`);
    createReadStream(file).pipe(res);
  });

  router.get('/api/me/export', auth, async (req, res) => {
    const id = await livePerson(ctx, req);
    res.json(await exportPerson(ctx, id));
  });

  router.delete('/api/me', auth, async (req, res) => {
    const id = await livePerson(ctx, req);
    res.json({ erased: await erasePerson(ctx, id, requestActor(req)) });
  });

  router.delete('/api/identities/:identityId', auth, async (req, res) => {
    const target = uuidParam(req, 'identityId');
    const auth = req.auth!;
    if (!(await isPlatformOperator(ctx.access, { role: auth.role, userId: auth.userId, tenantId: undefined }))) {
      throw new AppError('FORBIDDEN', 'Platform administrators only');
    }
    res.json({ erased: await erasePerson(ctx, target, requestActor(req)) });
  });

  return router;
}

const isoTime = z.iso.datetime({ offset: true });

const exportAnswer = z
  .object({
    export: z
      .object({
        id: z.uuid(),
        tenantId: z.uuid(),
        status: z.enum(['pending', 'running', 'done', 'failed']),
        sizeBytes: z.number().int().nullable(),
        sha256: z.string().nullable(),
        summary: z.object({ tier: z.string(), templateVersion: z.number(), tables: z.record(z.string(), z.number()) }).nullable(),
        error: z.string().nullable(),
        createdAt: isoTime,
        finishedAt: isoTime.nullable(),
        expiresAt: isoTime.nullable(),
        download: z.object({ url: z.string(), expiresAt: isoTime }).strict().optional(),
      })
      .strict()
      .meta({ id: 'TenantExport' }),
  })
  .strict();

const eraseAnswer = z
  .object({
    erased: z
      .object({
        identityId: z.uuid(),
        tenants: z.array(z.object({ slug: z.string(), deleted: z.record(z.string(), z.number()), pseudonymised: z.number() }).strict()),
        auditPersonalRemoved: z.number(),
        alreadyErased: z.boolean(),
      })
      .strict()
      .meta({ id: 'EraseReport' }),
  })
  .strict();

export function describePortability(api: ApiDocs): void {
  api.area('Data portability', "Tenant exports, and a person's own export and erasure.", (a) => {
    const exportPath = tenantPathParams.extend({ exportId: z.uuid() });
    a.route({
      method: 'post',
      path: '/api/tenants/:id/exports',
      summary: 'Export the tenant (owners): a job',
      auth: 'caller',
      params: tenantPathParams,
      status: 202,
      response: exportAnswer,
      errors: [409],
    });
    a.route({
      method: 'get',
      path: '/api/tenants/:id/exports/:exportId',
      summary: "An export's state and, when done, a signed download link that expires (owners)",
      auth: 'caller',
      params: exportPath,
      response: exportAnswer,
    });
    a.route({
      method: 'get',
      path: '/api/exports/:tenantId/:exportId/archive',
      summary: 'The archive, for the holder of the signed link (Digest: sha-256=…)',
      auth: 'anonymous',
      params: z.object({ tenantId: z.uuid(), exportId: z.uuid() }),
      query: z.object({ expires: z.string(), sig: z.string() }),
      response: { contentType: 'application/gzip', description: 'The tenant archive' },
      errors: [403, 410],
    });
    a.route({
      method: 'get',
      path: '/api/me/export',
      summary:
        'Everything held about the signed-in person: identity, memberships, member and authored rows in every tenant, invitations, audit entries about them',
      auth: 'caller',
      response: z
        .object({
          identity: z.object({ id: z.uuid(), email: z.string(), name: z.string().nullable(), createdAt: isoTime }).strict(),
          tenants: z.array(
            z
              .object({
                id: z.uuid(),
                slug: z.string(),
                name: z.string(),
                role: z.string(),
                member: z.array(z.unknown()),
                authored: z.record(z.string(), z.array(z.unknown())),
              })
              .strict(),
          ),
          invitations: z.array(z.unknown()),
          auditEntries: z.array(z.unknown()),
        })
        .strict(),
    });
    a.route({
      method: 'delete',
      path: '/api/me',
      summary: 'Erase the signed-in person',
      auth: 'caller',
      response: eraseAnswer,
      errors: [409],
    });
    a.route({
      method: 'delete',
      path: '/api/identities/:identityId',
      summary: 'Erase a person (platform admins)',
      auth: 'platformAdmin',
      params: z.object({ identityId: z.uuid() }),
      response: eraseAnswer,
      errors: [409],
    });
  });
}
