// Reconcile: Hasura's metadata against the registry and the template.
// Expected: a source for exactly the live schema/database tenants registered in
// hasura_tenant_sources (closed tenants hold none), each tracking its schema's
// tables with the template's relationships and permission rules, and no
// inconsistent object. Drift is listed; unless it is a dry run, each tenant's
// source is repaired in one bulk, and sources nobody owns are dropped. Other
// sources (the platform's) are left alone.
import type { Logger } from '../core/log.ts';
import { schemaNameFor } from '../tenants/records.ts';
import type { Drift } from './drift.ts';
import { dropSource, type ExposureDeps } from './exposure.ts';
import { CLOSED_STATUSES, exportMetadata, syncTenantSource } from './sync.ts';

const TENANT_SOURCE_PREFIX = schemaNameFor('');

export interface ReconcileReport {
  resourceVersion: number;
  drift: Drift[];
  /** Sources changed (repair runs only). */
  repaired: string[];
  failed: { source: string; error: string }[];
  dryRun: boolean;
}

/** A field of Hasura's inconsistency report as text: strings as they are, anything else as JSON. */
function text(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

interface InconsistentObject {
  type?: unknown;
  name?: unknown;
  definition?: unknown;
  reason?: unknown;
}

/** The source an inconsistent object belongs to: a source itself, or "<object> in source <name>". */
function sourceOfInconsistency(o: InconsistentObject): string | undefined {
  if (o.type === 'source') {
    if (typeof o.definition === 'string') return o.definition;
    const name = (o.definition as { name?: unknown } | null)?.name;
    if (typeof name === 'string') return name;
  }
  const label = typeof o.name === 'string' ? o.name.slice(0, 1000) : '';
  const at = label.lastIndexOf(' in source ');
  return at >= 0 ? label.slice(at + ' in source '.length).trim() : undefined;
}

export async function reconcile(deps: ExposureDeps, opts: { dryRun: boolean }): Promise<ReconcileReport> {
  const exported = await exportMetadata(deps);
  const snapshot = exported.metadata.sources;
  const inconsistent = await deps.metadata.request<{ inconsistent_objects?: InconsistentObject[] }>({
    type: 'get_inconsistent_metadata',
    args: {},
  });
  const report: ReconcileReport = { resourceVersion: exported.resource_version, drift: [], repaired: [], failed: [], dryRun: opts.dryRun };

  const { rows: tenants } = await deps.pool.query<{
    id: string;
    slug: string;
    status: string;
    source_name: string | null;
    moving: boolean;
  }>(
    `select t.id, t.slug, t.status, s.source_name,
            exists (select 1 from public.tenant_moves m where m.tenant_id = t.id and m.finished_at is null) as moving
       from public.tenants t left join public.hasura_tenant_sources s on s.tenant_id = t.id
      where t.isolation <> 'pooled' or s.tenant_id is not null
      order by t.slug`,
  );
  const owned = new Set<string>();
  const bySource = new Map<string, InconsistentObject[]>();
  for (const o of inconsistent.inconsistent_objects ?? []) {
    const source = sourceOfInconsistency(o) ?? '';
    bySource.set(source, [...(bySource.get(source) ?? []), o]);
  }

  for (const t of tenants) {
    const name = t.source_name ?? schemaNameFor(t.slug);
    owned.add(name);
    // A move changes the source at its own step; it is not drift meanwhile.
    if (t.moving) continue;
    const live = !CLOSED_STATUSES.includes(t.status);
    // Unregistered live tenants (no slot under the cap, HASURA_SOURCE_CAP_POLICY=skip) have no source by design.
    if (live && !t.source_name && deps.settings.capPolicy === 'skip') continue;
    if (!live && !t.source_name) {
      if (snapshot.some((s) => s.name === name)) owned.delete(name); // an orphan source: dropped below
      continue;
    }
    const rebuild = live && (bySource.get(name)?.length ?? 0) > 0;
    for (const o of rebuild ? bySource.get(name)! : []) {
      report.drift.push({
        source: name,
        kind: 'inconsistent object',
        object: text(o.name ?? o.type),
        detail: text(o.reason).slice(0, 200),
      });
    }
    try {
      const dry = await syncTenantSource(deps, t.id, { snapshot, dryRun: true, rebuild });
      const found = dry.drift;
      report.drift.push(...found);
      if (!opts.dryRun && (found.length > 0 || rebuild)) {
        await syncTenantSource(deps, t.id, { snapshot, rebuild });
        report.repaired.push(name);
      }
    } catch (err) {
      report.failed.push({ source: name, error: (err as Error).message });
    }
  }
  bySource.forEach((objects, source) => {
    if (owned.has(source) || source.startsWith(TENANT_SOURCE_PREFIX)) return;
    for (const o of objects) {
      report.drift.push({
        source: source || '-',
        kind: 'inconsistent object',
        object: text(o.name ?? o.type),
        detail: 'not a tenant source: left alone',
      });
    }
  });

  for (const s of snapshot) {
    if (!s.name.startsWith(TENANT_SOURCE_PREFIX) || owned.has(s.name)) continue;
    report.drift.push({ source: s.name, kind: 'source extra', object: '', detail: 'no live tenant owns it' });
    if (opts.dryRun) continue;
    try {
      await dropSource(deps, s.name);
      report.repaired.push(s.name);
    } catch (err) {
      report.failed.push({ source: s.name, error: (err as Error).message });
    }
  }
  return report;
}

/** One log line per run (the scheduled job). */
export function logReconcile(log: Logger, report: ReconcileReport): void {
  const line = { drift: report.drift.length, repaired: report.repaired.length, failed: report.failed.length, dryRun: report.dryRun };
  if (report.drift.length === 0) log.info(line, 'Hasura metadata reconciled: no drift');
  else log.warn(line, report.dryRun ? 'Hasura metadata drift found (dry run: not repaired)' : 'Hasura metadata drift found and repaired');
}
