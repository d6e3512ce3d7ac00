// Keeping each tenant's Hasura source true to the tenant after registration:
//   syncTenantSource   one tenant: a live schema/database tenant's source is
//                      brought to what its schema and the permission rules say
//                      (one bulk, applied by Hasura as a whole: a failure leaves
//                      the old shape serving); a cancelled or archived tenant's
//                      source is dropped and its slot under the cap freed.
//   syncPendingSources every source whose metadata is behind its tenant's
//                      template version (after `tenants migrate`), concurrently.
// Both are idempotent: the retry jobs (jobs.ts) and reconcile just run them again.
import { AppError } from '../core/errors.ts';
import { asSystem, type Pool } from '../db/tx.ts';
import { enqueue } from '../jobs/queue.ts';
import type { TenantRow } from '../tenants/records.ts';
import type { MetadataRequest } from './client.ts';
import {
  desiredSourceOf,
  diffSource,
  exportedMetadataSchema,
  METADATA_VERSION,
  type Drift,
  type ExportedMetadata,
  type SourceMetadata,
} from './drift.ts';
import {
  dropSource,
  inTenantDatabase,
  introspectTenantSchema,
  markSourceSynced,
  exposureOf,
  releaseSource,
  reserveSource,
  sourceSpecOf,
  tenantSourceRequests,
  type Exposed,
  type ExposureDeps,
} from './exposure.ts';

export const CLOSED_STATUSES: readonly string[] = ['cancelled', 'archived'];
export const SYNC_SOURCE_JOB = 'hasura.sync-source';
export const SYNC_SOURCES_JOB = 'hasura.sync-sources';

/** Hasura answered with metadata this server does not understand: nothing is compared or changed. */
export class UnknownMetadataVersion extends AppError {
  constructor(version: unknown) {
    super(
      'SERVICE_UNAVAILABLE',
      `Hasura's metadata is version ${JSON.stringify(version)}, and this server understands only version ${METADATA_VERSION}; stopped without changing anything`,
    );
  }
}

/** export_metadata (version 2: with its resource_version), checked against the format this server knows. */
export async function exportMetadata(deps: Pick<ExposureDeps, 'metadata'>): Promise<ExportedMetadata> {
  const raw = await deps.metadata.request<unknown>({ type: 'export_metadata', version: 2, args: {} });
  const version = (raw as { metadata?: { version?: unknown } } | null)?.metadata?.version;
  if (version !== METADATA_VERSION) throw new UnknownMetadataVersion(version);
  const parsed = exportedMetadataSchema.safeParse(raw);
  if (!parsed.success)
    throw new UnknownMetadataVersion(`${METADATA_VERSION} (in a shape this server cannot read: ${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

export interface SourceSync {
  tenantId: string;
  source: string;
  drift: Drift[];
  /** The repair requests (sent unless dry run). */
  requests: MetadataRequest[];
  action: 'none' | 'updated' | 'dropped' | 'skipped';
}

export interface SyncOptions {
  /** Hasura's sources as exported once for a whole run; exported here when absent. */
  snapshot?: readonly SourceMetadata[] | undefined;
  /** Compare only: no metadata call that changes anything, no grant, no registry change. */
  dryRun?: boolean | undefined;
  /** Rebuild the source whole (Hasura reports inconsistent objects in it). */
  rebuild?: boolean | undefined;
}

async function loadTenant(pool: Pool, tenantId: string): Promise<(TenantRow & { source_name: string | null }) | undefined> {
  const { rows } = await pool.query<TenantRow & { source_name: string | null }>(
    `select t.*, s.source_name from public.tenants t left join public.hasura_tenant_sources s on s.tenant_id = t.id where t.id = $1`,
    [tenantId],
  );
  return rows[0];
}

async function actualSource(deps: ExposureDeps, name: string, snapshot: SyncOptions['snapshot']): Promise<SourceMetadata | undefined> {
  const sources = snapshot ?? (await exportMetadata(deps)).metadata.sources;
  return sources.find((s) => s.name === name);
}

/** Drops the source of a tenant that should have none (closed), and frees its slot. */
async function retire(deps: ExposureDeps, tenant: TenantRow, sourceName: string, opts: SyncOptions): Promise<SourceSync> {
  const present = await actualSource(deps, sourceName, opts.snapshot);
  const drift: Drift[] = [
    { source: sourceName, kind: 'closed tenant registered', object: '', detail: `tenant ${tenant.slug} is ${tenant.status}` },
  ];
  if (present) drift.push({ source: sourceName, kind: 'source extra', object: '', detail: `tenant ${tenant.slug} is ${tenant.status}` });
  const requests: MetadataRequest[] = present ? [{ type: 'pg_drop_source', args: { name: sourceName, cascade: true } }] : [];
  if (!opts.dryRun) {
    await dropSource(deps, sourceName);
    await releaseSource(deps, tenant.id);
    deps.log.info({ tenantId: tenant.id, source: sourceName, status: tenant.status }, 'Hasura source of a closed tenant dropped');
  }
  return { tenantId: tenant.id, source: sourceName, drift, requests, action: opts.dryRun ? 'none' : 'dropped' };
}

async function desiredRegistration(
  deps: ExposureDeps,
  tenant: TenantRow,
  placement: Exposed,
  dryRun: boolean,
): Promise<MetadataRequest[] | undefined> {
  // Repairs first make sure of the grant and the marker view (and the slot under the cap); a dry run only reads.
  const tables = dryRun
    ? await asSystem(deps.pool, (client) => inTenantDatabase(deps, tenant, client, (c) => introspectTenantSchema(c, placement.schema)))
    : await reserveSource(deps, tenant, placement);
  if (!tables) return undefined;
  return tenantSourceRequests(sourceSpecOf(deps.settings, tenant, placement, tables));
}

/**
 * Brings one tenant's source to what it should be (see the file comment), in
 * one bulk. Throws when Hasura refuses or cannot be reached; the metadata is
 * then as it was, and running this again is safe.
 */
export async function syncTenantSource(deps: ExposureDeps, tenantId: string, opts: SyncOptions = {}): Promise<SourceSync> {
  const tenant = await loadTenant(deps.pool, tenantId);
  const none = (source = ''): SourceSync => ({ tenantId, source, drift: [], requests: [], action: 'skipped' });
  if (!tenant) return none();
  const placement = exposureOf(tenant);
  // Pooled tenants share the platform source; a pooled tenant's reserved slot belongs to its move.
  if (!placement.exposed) return none(tenant.source_name ?? '');
  if (CLOSED_STATUSES.includes(tenant.status)) {
    return tenant.source_name ? retire(deps, tenant, tenant.source_name, opts) : none(placement.schema);
  }
  const registration = await desiredRegistration(deps, tenant, placement, opts.dryRun === true);
  if (!registration) return none(placement.schema);
  const desired = desiredSourceOf(registration);
  const actual = await actualSource(deps, desired.name, opts.snapshot);
  const diff = diffSource(actual, desired, registration);
  // Inconsistent objects are not visible in the export: the source is rebuilt whole, in the same single bulk.
  if (opts.rebuild && actual) diff.requests = [{ type: 'pg_drop_source', args: { name: desired.name, cascade: true } }, ...registration];
  if (opts.dryRun) return { tenantId, source: desired.name, ...diff, action: 'none' };
  if (diff.requests.length > 0) {
    await deps.metadata.request({ type: 'bulk', args: diff.requests });
    deps.log.info({ tenantId, source: desired.name, changes: diff.drift.length }, 'Hasura tenant source updated');
  }
  await markSourceSynced(deps.pool, tenantId);
  return { tenantId, source: desired.name, ...diff, action: diff.requests.length > 0 ? 'updated' : 'none' };
}

export interface PendingSyncReport {
  total: number;
  synced: string[];
  failed: { slug: string; error: string }[];
  /** Set when the failures were queued for a retry (the job runner does it). */
  retryQueued: boolean;
}

export interface PendingSyncOptions {
  concurrency: number;
  onProgress?: (done: number, total: number, slug: string) => void;
  /** Delay before the queued retry. Default 60 s. */
  retryAfterMs?: number;
  /** Queue a retry job for failures (default); the retry job itself fails instead and is retried by the runner. */
  queueRetry?: boolean;
}

/**
 * Every registered, live source whose metadata is behind its tenant's
 * template version: synced against one export, `concurrency` at a time. A
 * tenant that fails (or all of them, when Hasura cannot be reached) is
 * reported and a retry job is queued; its source keeps serving the old shape.
 */
export async function syncPendingSources(deps: ExposureDeps, opts: PendingSyncOptions): Promise<PendingSyncReport> {
  const { rows: pending } = await deps.pool.query<{ id: string; slug: string }>(
    `select t.id, t.slug
       from public.hasura_tenant_sources s
       join public.tenants t on t.id = s.tenant_id
      where coalesce(s.synced_version, -1) < coalesce(t.template_version, 0)
        and t.isolation <> 'pooled' and t.status <> all ($1::text[])
        and not exists (select 1 from public.tenant_moves m where m.tenant_id = t.id and m.finished_at is null)
      order by t.slug`,
    [CLOSED_STATUSES],
  );
  const report: PendingSyncReport = { total: pending.length, synced: [], failed: [], retryQueued: false };
  if (pending.length === 0) return report;
  let snapshot: readonly SourceMetadata[] | undefined;
  try {
    snapshot = (await exportMetadata(deps)).metadata.sources;
  } catch (err) {
    report.failed = pending.map((p) => ({ slug: p.slug, error: (err as Error).message }));
  }
  if (snapshot) {
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < pending.length) {
        const t = pending[next++]!;
        try {
          await syncTenantSource(deps, t.id, { snapshot });
          report.synced.push(t.slug);
        } catch (err) {
          report.failed.push({ slug: t.slug, error: (err as Error).message });
        } finally {
          opts.onProgress?.(++done, pending.length, t.slug);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, pending.length)) }, worker));
  }
  if (report.failed.length > 0 && opts.queueRetry !== false) {
    deps.log.warn(
      { failed: report.failed.length, total: pending.length },
      'Hasura metadata of upgraded tenants not updated; a retry is queued',
    );
    report.retryQueued = await queueRetry(deps, SYNC_SOURCES_JOB, {}, 'hasura.sync-sources', opts.retryAfterMs ?? 60_000);
  }
  return report;
}

/** Queues a retry; false (logged) when the job queue is not there (the next run, or reconcile, catches up instead). */
async function queueRetry(
  deps: Pick<ExposureDeps, 'pool' | 'log'>,
  job: string,
  payload: unknown,
  jobKey: string,
  afterMs: number,
): Promise<boolean> {
  try {
    await enqueue(deps.pool, job, payload, { jobKey, runAt: new Date(Date.now() + afterMs), maxAttempts: 25 });
    return true;
  } catch (err) {
    deps.log.error(
      { job, err: (err as Error).message },
      'could not queue the retry of the Hasura metadata step: run tenants migrate or hasura reconcile again',
    );
    return false;
  }
}
