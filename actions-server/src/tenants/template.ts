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
 * usage triggers. Runs in the caller's transaction, in one round trip: a
 * provisioning or an upgrade costs the DDL, not a dialogue about it.
 *
 * A new tenant's provisioning adds its own statements to that round trip:
 * `before` runs first (even with no step pending: the role, the schema), and
 * `seed` runs in the schema after the steps, before it is secured, to write
 * the tenant's first rows (attaching the triggers counts them into the
 * tenant's counters, as the triggers would have).
 */
export async function applyTemplate(
  client: Client,
  opts: {
    schema: string;
    role: string;
    tenantId: string;
    fromVersion: number;
    steps: TemplateStep[];
    before?: string[];
    seed?: string[];
    /** Last in the same round trip, whether or not a step was pending (an upgrade releases its savepoint). */
    after?: string[];
  },
): Promise<number> {
  const pending = opts.steps.filter((s) => s.version > opts.fromVersion);
  if (pending.length === 0) {
    const statements = [...(opts.before ?? []), ...(opts.after ?? [])];
    if (statements.length > 0) await client.query(statements.join('\n;\n'));
    return opts.fromVersion;
  }
  const literal = (v: string) => client.escapeLiteral(v);
  // Statements are separated by a line of their own, so a step ending in a
  // comment cannot swallow the separator. pg_temp last so a tenant's tables can
  // never be shadowed by temporary ones.
  await client.query(
    [
      ...(opts.before ?? []),
      `set local search_path = ${client.escapeIdentifier(opts.schema)}, public, pg_temp`,
      ...pending.map((step) => step.sql),
      ...(opts.seed ?? []),
      'set local search_path = public, pg_temp',
      `select public.secure_tenant_schema(${literal(opts.schema)}, ${literal(opts.role)})`,
      `select public.attach_tenant_triggers(${literal(opts.schema)}, ${literal(opts.tenantId)})`,
      ...(opts.after ?? []),
    ].join('\n;\n'),
  );
  return pending.at(-1)?.version ?? opts.fromVersion;
}
