// Upgrades every schema-tier tenant to the latest template version. One
// transaction per tenant holds its DDL and its recorded version together, so a
// run killed at any point is finished by the next one; a failing tenant is
// reported and the others go on.
import { asSystem, type Pool } from '../db/tx.ts';
import { applyTemplate, latestVersion, loadTemplate, TEMPLATE_DIR } from './template.ts';

export interface TemplateMigrationReport {
  target: number;
  total: number;
  upgraded: string[];
  skipped: string[];
  failed: { slug: string; error: string }[];
}

export interface TemplateMigrationOptions {
  pool: Pool;
  concurrency: number;
  templateDir?: string;
  onProgress?: (done: number, total: number, slug: string) => void;
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
     where isolation = 'schema' and coalesce(template_version, 0) < $1
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
        const { rows } = await client.query<{ schema_name: string; db_role: string; template_version: string | null }>(
          `select schema_name, db_role, template_version from public.tenants
           where id = $1 and coalesce(template_version, 0) < $2 for update skip locked`,
          [t.id, target],
        );
        const row = rows[0];
        if (!row) return false;
        const version = await applyTemplate(client, {
          schema: row.schema_name,
          role: row.db_role,
          tenantId: t.id,
          fromVersion: Number(row.template_version ?? 0),
          steps,
        });
        await client.query('update public.tenants set template_version = $2 where id = $1', [t.id, version]);
        return true;
      });
      (upgraded ? report.upgraded : report.skipped).push(t.slug);
    } catch (err) {
      report.failed.push({ slug: t.slug, error: (err as Error).message });
    } finally {
      done++;
      opts.onProgress?.(done, pending.length, t.slug);
    }
  };

  const worker = async (): Promise<void> => {
    while (next < pending.length) {
      const t = pending[next++]!;
      await upgradeOne(t);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, pending.length) }, worker));
  return report;
}
