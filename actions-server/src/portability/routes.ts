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
import { requestActor } from '../audit/actor.ts';
import { isPlatformOperator } from '../hasura/session.ts';
import { archivePath, checkLink, getExport, requestExport, toExportView } from './exports.ts';
import { erasePerson, exportPerson } from './people.ts';

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
