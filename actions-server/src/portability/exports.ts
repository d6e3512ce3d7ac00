// Export jobs requested over HTTP: a tenant_exports row and a job enqueued in
// the same transaction; the job writes the archive into EXPORT_DIR; owners
// read its state and get a signed download link that expires
// (EXPORT_LINK_TTL_SECONDS). Archives are deleted after EXPORT_RETENTION_HOURS
// by the retention job.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Env } from '../core/config.ts';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { asSystem, type Pool } from '../db/tx.ts';
import { enqueue } from '../jobs/queue.ts';
import { exportTenant } from './export.ts';

export const EXPORT_JOB = 'portability.export';

export interface ExportRow {
  tenant_id: string;
  id: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  requested_by: string | null;
  file_name: string | null;
  size_bytes: string | null;
  sha256: string | null;
  manifest: { tier: string; templateVersion: number; tables: Record<string, number> } | null;
  error: string | null;
  created_at: Date;
  finished_at: Date | null;
  expires_at: Date | null;
}

export interface ExportView {
  id: string;
  tenantId: string;
  status: ExportRow['status'];
  sizeBytes: number | null;
  sha256: string | null;
  summary: ExportRow['manifest'];
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  expiresAt: string | null;
  download?: { url: string; expiresAt: string };
}

let processKey: Buffer | undefined;

/** The HMAC key of download links: EXPORT_LINK_SECRET, else derived from JWT_SECRET, else random for this process. */
function linkKey(env: Pick<Env, 'EXPORT_LINK_SECRET' | 'JWT_SECRET'>): Buffer {
  if (env.EXPORT_LINK_SECRET) return Buffer.from(env.EXPORT_LINK_SECRET, 'utf8');
  if (env.JWT_SECRET) return createHmac('sha256', env.JWT_SECRET).update('tenant-export-links').digest();
  processKey ??= randomBytes(32);
  return processKey;
}

const signature = (env: Pick<Env, 'EXPORT_LINK_SECRET' | 'JWT_SECRET'>, tenantId: string, exportId: string, expires: number) =>
  createHmac('sha256', linkKey(env)).update(`${tenantId}.${exportId}.${expires}`).digest('base64url');

export function signedLink(env: Env, tenantId: string, exportId: string, now = Date.now()): { url: string; expiresAt: string } {
  const expires = Math.floor(now / 1000) + env.EXPORT_LINK_TTL_SECONDS;
  const sig = signature(env, tenantId, exportId, expires);
  return {
    url: `/api/exports/${tenantId}/${exportId}/archive?expires=${expires}&sig=${sig}`,
    expiresAt: new Date(expires * 1000).toISOString(),
  };
}

/** Checks a download link's signature and expiry (403 either way, without saying which). */
export function checkLink(env: Env, tenantId: string, exportId: string, expires: unknown, sig: unknown, now = Date.now()): void {
  const ok =
    typeof expires === 'string' &&
    typeof sig === 'string' &&
    /^\d{1,12}$/.test(expires) &&
    sig.length === 43 &&
    Number(expires) * 1000 > now &&
    timingSafeEqual(Buffer.from(sig), Buffer.from(signature(env, tenantId, exportId, Number(expires))));
  if (!ok) throw new AppError('FORBIDDEN', 'This download link is invalid or has expired; ask for a new one');
}

export const archivePath = (env: Pick<Env, 'EXPORT_DIR'>, fileName: string) => path.resolve(env.EXPORT_DIR, fileName);

export function toExportView(row: ExportRow, env?: Env): ExportView {
  const view: ExportView = {
    id: row.id,
    tenantId: row.tenant_id,
    status: row.status,
    sizeBytes: row.size_bytes === null ? null : Number(row.size_bytes),
    sha256: row.sha256,
    summary: row.manifest,
    error: row.error,
    createdAt: row.created_at.toISOString(),
    finishedAt: row.finished_at?.toISOString() ?? null,
    expiresAt: row.expires_at?.toISOString() ?? null,
  };
  if (env && row.status === 'done' && row.file_name && row.expires_at && row.expires_at.getTime() > Date.now())
    view.download = signedLink(env, row.tenant_id, row.id);
  return view;
}

/** Records the request and enqueues its job in one transaction (the job exists only if the row does). */
export async function requestExport(pool: Pool, tenantId: string, userId: string): Promise<ExportRow> {
  return asSystem(pool, async (c) => {
    const running = await c.query(`select 1 from public.tenant_exports where tenant_id = $1 and status in ('pending', 'running')`, [
      tenantId,
    ]);
    if (running.rowCount) throw new AppError('CONFLICT', 'An export of this tenant is already under way');
    const row = (
      await c.query<ExportRow>('insert into public.tenant_exports (tenant_id, requested_by) values ($1, $2) returning *', [
        tenantId,
        userId,
      ])
    ).rows[0]!;
    await enqueue(c, EXPORT_JOB, { tenantId, exportId: row.id }, { maxAttempts: 1 });
    return row;
  });
}

export async function getExport(pool: Pool, tenantId: string, exportId: string): Promise<ExportRow> {
  const row = (await pool.query<ExportRow>('select * from public.tenant_exports where tenant_id = $1 and id = $2', [tenantId, exportId]))
    .rows[0];
  if (!row) throw new AppError('NOT_FOUND', 'No such export');
  return row;
}

/** The job: writes the archive, then records its size, SHA-256 and a summary; a failure is recorded on the row. */
export async function runExport(
  ctx: Pick<AppContext, 'pool' | 'databases' | 'env' | 'log'>,
  tenantId: string,
  exportId: string,
): Promise<void> {
  const claimed = await ctx.pool.query(
    `update public.tenant_exports set status = 'running' where tenant_id = $1 and id = $2 and status = 'pending'`,
    [tenantId, exportId],
  );
  if (!claimed.rowCount) return;
  const fileName = `${tenantId}-${exportId}.tar.gz`;
  try {
    await mkdir(path.resolve(ctx.env.EXPORT_DIR), { recursive: true });
    const { manifest, bytes, sha256 } = await exportTenant(ctx, tenantId, archivePath(ctx.env, fileName));
    const summary = {
      tier: manifest.tier,
      templateVersion: manifest.templateVersion,
      tables: Object.fromEntries(manifest.tables.map((t) => [t.name, t.rows])),
    };
    await ctx.pool.query(
      `update public.tenant_exports set status = 'done', file_name = $3, size_bytes = $4, sha256 = $5, manifest = $6, finished_at = now(),
              expires_at = now() + make_interval(hours => $7) where tenant_id = $1 and id = $2`,
      [tenantId, exportId, fileName, bytes, sha256, summary, ctx.env.EXPORT_RETENTION_HOURS],
    );
  } catch (err) {
    ctx.log.error({ tenantId, exportId, err: (err as Error).message }, 'tenant export failed');
    await rm(archivePath(ctx.env, fileName), { force: true });
    await ctx.pool.query(
      `update public.tenant_exports set status = 'failed', error = $3, finished_at = now() where tenant_id = $1 and id = $2`,
      [tenantId, exportId, err instanceof AppError ? err.message : 'the export failed; see the server log'],
    );
  }
}

/** Deletes archives past their expiry (their rows stay, without a file). Returns how many. */
export async function purgeExpiredExports(ctx: Pick<AppContext, 'pool' | 'env'>): Promise<number> {
  const { rows } = await ctx.pool.query<{ tenant_id: string; id: string; file_name: string }>(
    `select tenant_id, id, file_name from public.tenant_exports where file_name is not null and expires_at < now()`,
  );
  for (const r of rows) {
    await rm(archivePath(ctx.env, r.file_name), { force: true });
    await ctx.pool.query('update public.tenant_exports set file_name = null where tenant_id = $1 and id = $2', [r.tenant_id, r.id]);
  }
  return rows.length;
}

/** Digest helper for tests and operators: SHA-256 of a buffer, hex. */
export const sha256Hex = (b: Buffer) => createHash('sha256').update(b).digest('hex');
