// The tenant template: sql/tenant/NNNN_<name>.sql, applied in order inside a
// tenant's schema. Loaded once per process.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Client } from '../db/tx.ts';

export const TEMPLATE_DIR = path.resolve(import.meta.dirname, '../../../sql/tenant');

export interface TemplateStep {
  version: number;
  name: string;
  sql: string;
}

const cache = new Map<string, Promise<TemplateStep[]>>();

export function loadTemplate(dir = TEMPLATE_DIR): Promise<TemplateStep[]> {
  let steps = cache.get(dir);
  if (!steps) {
    steps = (async () => {
      const files = (await readdir(dir)).filter((f) => /^\d+_.+\.sql$/.test(f));
      const loaded = await Promise.all(
        files.map(async (file) => {
          const [, version = '', name = ''] = /^(\d+)_(.+)\.sql$/.exec(file) ?? [];
          return { version: Number(version), name, sql: await readFile(path.join(dir, file), 'utf8') };
        }),
      );
      return loaded.sort((a, b) => a.version - b.version);
    })();
    cache.set(dir, steps);
  }
  return steps;
}

export function latestVersion(steps: TemplateStep[]): number {
  return steps.at(-1)?.version ?? 0;
}

/**
 * Applies the template steps newer than `fromVersion` inside `schema`, then
 * re-secures the schema for `role` and (re)attaches the tenant's plan-limit and
 * usage triggers. Runs in the caller's transaction.
 */
export async function applyTemplate(
  client: Client,
  opts: { schema: string; role: string; tenantId: string; fromVersion: number; steps: TemplateStep[] },
): Promise<number> {
  const pending = opts.steps.filter((s) => s.version > opts.fromVersion);
  if (pending.length === 0) return opts.fromVersion;
  // pg_temp last so a tenant's tables can never be shadowed by temporary ones.
  await client.query(`set local search_path = ${client.escapeIdentifier(opts.schema)}, public, pg_temp`);
  for (const step of pending) await client.query(step.sql);
  await client.query('set local search_path = public, pg_temp');
  await client.query('select public.secure_tenant_schema($1, $2)', [opts.schema, opts.role]);
  await client.query('select public.attach_tenant_triggers($1, $2)', [opts.schema, opts.tenantId]);
  return pending.at(-1)?.version ?? opts.fromVersion;
}
