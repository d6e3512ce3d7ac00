// Upgrades every schema-tier and database-tier tenant to the latest template
// version. One transaction per tenant holds its DDL and its recorded version
// together, so a run killed at any point is finished by the next one; a
// failing tenant is reported and the others go on. A database tenant's DDL
// commits in its own database with the version recorded there (its registry
// copy), and the main registry's version follows; a run killed in between
// reads the tenant database's version next time and only records it.
//
// Then Hasura: every upgraded tenant's source learns the new shape (one bulk
// per tenant, hasura/sync.ts), in the same run and as concurrently. A source
// whose metadata call fails keeps serving the old shape, is reported, and a
// retry job is queued; the next run picks it up as well (the registry records
// which template version each source's metadata reflects). The schema upgrades
// stand either way. A tenant being moved or hard-deleted is skipped (reported;
// the next run upgrades it).
import { asSystem, type Client, type Pool } from '../db/tx.ts';
import { applyTemplate, latestVersion, loadTemplate, TEMPLATE_DIR, type TemplateStep } from './template.ts';
import type { TenantDatabases } from './databases.ts';
import { databaseRefOf } from './placement.ts';
import type { TenantRow } from './records.ts';
import { tryTenantLockInTransaction } from './lock.ts';
import type { ExposureDeps } from '../hasura/exposure.ts';
import { syncPendingSources, type PendingSyncReport } from '../hasura/sync.ts';

export interface TemplateMigrationReport {
  target: number;
  total: number;
  upgraded: string[];
  skipped: string[];
  failed: { slug: string; error: string }[];
  /** The Hasura step; absent when Hasura is not configured. */
  metadata?: PendingSyncReport;
}

export interface TemplateMigrationOptions {
  pool: Pool;
  /** Needed when there are database-tier tenants. */
  databases?: TenantDatabases | undefined;
  concurrency: number;
  templateDir?: string;
  onProgress?: (done: number, total: number, slug: string, phase: 'schema' | 'metadata') => void;
  /** Present when Hasura is configured: sources follow the upgraded schemas. */
  hasura?: ExposureDeps | undefined;
}

interface Pending {
  id: string;
  slug: string;
}

export async function migrateTenantSchemas(opts: TemplateMigrationOptions): Promise<TemplateMigrationReport> {
  const steps = await loadTemplate(opts.templateDir ?? TEMPLATE_DIR);
  const target = latestVersion(steps);
  const { rows: pending } = await opts.pool.query<Pending>(
    `select id, slug from public.tenants
     where isolation in ('schema', 'database') and coalesce(template_version, 0) < $1
     order by slug`,
    [target],
  );
  const report: TemplateMigrationReport = { target, total: pending.length, upgraded: [], skipped: [], failed: [] };
  let next = 0;
  let done = 0;

  const upgradeOne = async (t: Pending): Promise<void> => {
    try {
      const upgraded = await asSystem(opts.pool, async (client) => {
        // SKIP LOCKED: a concurrent runner already holds this tenant.
        const { rows } = await client.query<TenantRow>(
          `select * from public.tenants
           where id = $1 and coalesce(template_version, 0) < $2 and isolation in ('schema', 'database')
           for update skip locked`,
          [t.id, target],
        );
        const row = rows[0];
        if (!row) return false;
        const moving = (await client.query('select 1 from public.tenant_moves where tenant_id = $1 and finished_at is null', [t.id]))
          .rowCount;
        if (moving || !(await tryTenantLockInTransaction(client, t.id))) {
          throw new Error('a move or hard delete of this tenant is in progress; run tenants migrate again when it is done');
        }
        if (row.isolation === 'schema') {
          await upgrade(client, row, steps);
          return true;
        }
        const { databases } = opts;
        if (!databases) throw new Error('database-tier tenants need their databases configured');
        const version = await databases.withPool(databaseRefOf(row), (pool) => asSystem(pool, (c) => upgrade(c, row, steps)));
        await client.query('update public.tenants set template_version = $2 where id = $1', [t.id, version]);
        return true;
      });
      (upgraded ? report.upgraded : report.skipped).push(t.slug);
    } catch (err) {
      report.failed.push({ slug: t.slug, error: (err as Error).message });
    } finally {
      done++;
      opts.onProgress?.(done, pending.length, t.slug, 'schema');
    }
  };

  const worker = async (): Promise<void> => {
    while (next < pending.length) {
      const t = pending[next++]!;
      await upgradeOne(t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, pending.length) }, worker));
  if (opts.hasura) {
    report.metadata = await syncPendingSources(opts.hasura, {
      concurrency: opts.concurrency,
      onProgress: (d, total, slug) => opts.onProgress?.(d, total, slug, 'metadata'),
    });
  }
  return report;
}

/** Applies the pending template steps where the tenant's schema is, recording the version there. */
async function upgrade(client: Client, row: TenantRow, steps: TemplateStep[]): Promise<number> {
  // In a tenant database the registry copy holds the version its schema really has.
  const current = (
    await client.query<{ template_version: string | null }>('select template_version from public.tenants where id = $1 for update', [
      row.id,
    ])
  ).rows[0];
  if (!row.schema_name || !row.db_role || !current) throw new Error(`tenant ${row.slug} has no schema to upgrade`);
  const version = await applyTemplate(client, {
    schema: row.schema_name,
    role: row.db_role,
    tenantId: row.id,
    fromVersion: Number(current.template_version ?? 0),
    steps,
  });
  await client.query('update public.tenants set template_version = $2 where id = $1', [row.id, version]);
  return version;
}
