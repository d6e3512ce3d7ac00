// The GraphQL names the platform source exposes, derived from the metadata:
// what a tenant's namespace (its slug, '-' as '_') and type prefix must never
// collide with. The database keeps the same list (public.platform_graphql_names).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';

const METADATA = path.resolve(import.meta.dirname, '../../hasura/metadata');
const NAMESPACE_RE = /^[a-z][a-z0-9_]*$/;

interface TableEntry {
  table: { schema: string; name: string };
  configuration?: { custom_name?: string; custom_root_fields?: Record<string, string | { name?: string }> };
}

/** Every `_`-separated prefix of a name: tenant_audit_logs -> tenant, tenant_audit, tenant_audit_logs. */
const prefixes = (name: string): string[] => name.split('_').map((_, i, parts) => parts.slice(0, i + 1).join('_'));

export async function platformGraphqlNames(): Promise<string[]> {
  const dir = path.join(METADATA, 'databases/platform/tables');
  const includes = parse(await readFile(path.join(dir, 'tables.yaml'), 'utf8')) as string[];
  const names = new Set<string>(['query_root', 'mutation_root', 'subscription_root', 'query', 'mutation', 'subscription']);
  for (const include of includes) {
    const file = include.replace('!include ', '').trim();
    const entry = parse(await readFile(path.join(dir, file), 'utf8')) as TableEntry;
    const base =
      entry.configuration?.custom_name ??
      (entry.table.schema === 'public' ? entry.table.name : `${entry.table.schema}_${entry.table.name}`);
    for (const p of prefixes(base)) names.add(p);
    for (const field of [
      base,
      `${base}_by_pk`,
      `${base}_aggregate`,
      `${base}_stream`,
      `insert_${base}`,
      `insert_${base}_one`,
      `update_${base}`,
      `update_${base}_by_pk`,
      `update_${base}_many`,
      `delete_${base}`,
      `delete_${base}_by_pk`,
    ]) {
      names.add(field);
    }
    for (const custom of Object.values(entry.configuration?.custom_root_fields ?? {})) {
      const name = typeof custom === 'string' ? custom : custom.name;
      if (name) names.add(name);
    }
  }
  // Actions are root fields of the same schema.
  const actions = await readFile(path.join(METADATA, 'actions.graphql'), 'utf8');
  let rootBlock = false;
  for (const line of actions.split('\n')) {
    if (line.startsWith('type ')) rootBlock = line.startsWith('type Mutation') || line.startsWith('type Query');
    else if (line.startsWith('}')) rootBlock = false;
    else if (rootBlock && line.startsWith('  ') && !line.trim().startsWith('#')) {
      const name = line.trim().split('(')[0]?.split(':')[0]?.trim();
      if (name) names.add(name);
    }
  }
  return [...names].filter((n) => NAMESPACE_RE.test(n)).sort();
}
