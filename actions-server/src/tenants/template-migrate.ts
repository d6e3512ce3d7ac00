// Upgrades every schema-tier and database-tier tenant to the latest template
// version. Tenants go in batches, one transaction per batch: each tenant's DDL
// runs in a savepoint of its own, and the batch records the new version of
// every tenant that succeeded in one statement with one audit entry (a platform
// entry naming the batch's tenants), then commits. DDL and recorded versions
// commit together, so a run killed at any point is finished by the next one; a
// failing tenant is rolled back to its savepoint and reported, and the others
// go on. A database tenant's DDL commits in its own database with the version
// recorded there (its registry copy), and the main registry's version follows;
// a run killed in between reads the tenant database's version next time and
// only records it.
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

// Tenants per transaction: enough to share one commit and one audit entry
// among many, few enough that a batch's locks stay small and a killed run
// loses little.
const BATCH_SIZE = 25;
/** Each tenant of a batch is upgraded under a savepoint of this name, so one failure costs only its own changes. */
const SAVEPOINT = 'tenant_upgrade';
const BUSY = 'a move or hard delete of this tenant is in progress; run tenants migrate again when it is done';

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
  // Every worker gets batches, however few tenants there are.
  const size = Math.max(1, Math.min(BATCH_SIZE, Math.ceil(pending.length / Math.max(1, opts.concurrency))));
  let next = 0;
  let done = 0;

  /**
   * One tenant, inside the batch's transaction and a savepoint of its own,
   * which the caller has opened; released here on success (a schema tenant's
   * in the upgrade's own round trip).
   */
  const upgradeOne = async (client: Client, row: TenantRow): Promise<void> => {
    if (row.isolation === 'schema') {
      await upgrade(client, row, steps, Number(row.template_version ?? 0), [`release savepoint ${SAVEPOINT}`]);
      return;
    }
    const { databases } = opts;
    if (!databases) throw new Error('database-tier tenants need their databases configured');
    await databases.withPool(databaseRefOf(row), (pool) => asSystem(pool, (c) => upgradeRecorded(c, row, steps)));
    await client.query(`release savepoint ${SAVEPOINT}`);
  };

  const upgradeBatch = async (batch: Pending[]): Promise<void> => {
    const outcome = new Map<string, 'upgraded' | 'skipped' | { error: string }>();
    try {
      await asSystem(opts.pool, async (client) => {
        // SKIP LOCKED: a concurrent runner already holds these tenants.
        const { rows } = await client.query<TenantRow>(
          `select * from public.tenants
           where id = any($1::uuid[]) and coalesce(template_version, 0) < $2 and isolation in ('schema', 'database')
           order by slug
           for update skip locked`,
          [batch.map((t) => t.id), target],
        );
        const moving = new Set(
          (
            await client.query<{ tenant_id: string }>(
              'select tenant_id from public.tenant_moves where tenant_id = any($1::uuid[]) and finished_at is null',
              [rows.map((r) => r.id)],
            )
          ).rows.map((r) => r.tenant_id),
        );
        const upgraded: string[] = [];
        for (const row of rows) {
          if (moving.has(row.id)) {
            outcome.set(row.id, { error: BUSY });
            continue;
          }
          try {
            if (!(await tryTenantLockInTransaction(client, row.id, { savepoint: SAVEPOINT }))) throw new Error(BUSY);
            await upgradeOne(client, row);
            upgraded.push(row.id);
            outcome.set(row.id, 'upgraded');
          } catch (err) {
            await client.query(`rollback to savepoint ${SAVEPOINT}`);
            outcome.set(row.id, { error: (err as Error).message });
          }
        }
        // One version record and one audit entry for the whole batch.
        if (upgraded.length > 0) await client.query('select public.record_template_upgrade($1, $2::uuid[])', [target, upgraded]);
      });
    } catch (err) {
      // The batch's commit failed: none of it stands.
      for (const t of batch) outcome.set(t.id, { error: (err as Error).message });
    }
    for (const t of batch) {
      const result = outcome.get(t.id) ?? 'skipped';
      if (result === 'upgraded') report.upgraded.push(t.slug);
      else if (result === 'skipped') report.skipped.push(t.slug);
      else report.failed.push({ slug: t.slug, error: result.error });
      done++;
      opts.onProgress?.(done, pending.length, t.slug, 'schema');
    }
  };

  const worker = async (): Promise<void> => {
    while (next < pending.length) {
      const batch = pending.slice(next, next + size);
      next += batch.length;
      await upgradeBatch(batch);
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

/** Applies the template steps newer than `fromVersion` to the tenant's schema (`after` runs last, in the same round trip). */
async function upgrade(client: Client, row: TenantRow, steps: TemplateStep[], fromVersion: number, after?: string[]): Promise<number> {
  if (!row.schema_name || !row.db_role) throw new Error(`tenant ${row.slug} has no schema to upgrade`);
  return applyTemplate(client, {
    schema: row.schema_name,
    role: row.db_role,
    tenantId: row.id,
    fromVersion,
    steps,
    ...(after ? { after } : {}),
  });
}

/** In a tenant database, whose registry copy holds the version its schema really has: upgrades and records it there. */
async function upgradeRecorded(client: Client, row: TenantRow, steps: TemplateStep[]): Promise<void> {
  const current = (
    await client.query<{ template_version: string | null }>('select template_version from public.tenants where id = $1 for update', [
      row.id,
    ])
  ).rows[0];
  if (!current) throw new Error(`tenant ${row.slug} has no registry copy in its database`);
  const version = await upgrade(client, row, steps, Number(current.template_version ?? 0));
  await client.query('update public.tenants set template_version = $2 where id = $1', [row.id, version]);
}
