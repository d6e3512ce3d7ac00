// What a tenant's source should hold, compared with what Hasura holds.
// The desired source is read off the very requests that register it
// (tenantSourceRequests), so registration, upgrades, moves and reconcile share
// one set of rules; the difference comes back as drift lines (for people) and
// as the metadata requests that repair it (for one bulk, which Hasura applies
// as a whole or not at all).
import { z } from 'zod';
import type { MetadataRequest } from './client.ts';

const jsonObject = z.record(z.string(), z.unknown());
const qualified = z.object({ schema: z.string(), name: z.string() });
const permissionEntry = z.object({ role: z.string(), permission: jsonObject });
const relationshipEntry = z.object({ name: z.string(), using: jsonObject });

/** One table of a source in export_metadata's format (only what tenant sources use). */
export const tableMetadataSchema = z.looseObject({
  table: z.union([qualified, z.string().transform((name) => ({ schema: 'public', name }))]),
  object_relationships: z.array(relationshipEntry).optional(),
  array_relationships: z.array(relationshipEntry).optional(),
  select_permissions: z.array(permissionEntry).optional(),
  insert_permissions: z.array(permissionEntry).optional(),
  update_permissions: z.array(permissionEntry).optional(),
  delete_permissions: z.array(permissionEntry).optional(),
});
export const sourceMetadataSchema = z.looseObject({
  name: z.string(),
  kind: z.string().optional(),
  tables: z.array(tableMetadataSchema).default([]),
  configuration: jsonObject.default({}),
  customization: jsonObject.optional(),
});
export type TableMetadata = z.infer<typeof tableMetadataSchema>;
export type SourceMetadata = z.infer<typeof sourceMetadataSchema>;

/** The metadata format this server understands; any other stops reconcile before it changes anything. */
export const METADATA_VERSION = 3;
export const exportedMetadataSchema = z.object({
  resource_version: z.number().int(),
  metadata: z.looseObject({ version: z.literal(METADATA_VERSION), sources: z.array(sourceMetadataSchema).default([]) }),
});
export type ExportedMetadata = z.infer<typeof exportedMetadataSchema>;

export const PERMISSION_KINDS = ['select', 'insert', 'update', 'delete'] as const;
type PermissionKind = (typeof PERMISSION_KINDS)[number];
const RELATIONSHIP_LISTS = ['object_relationships', 'array_relationships'] as const;

export type DriftKind =
  | 'source missing'
  | 'source extra'
  | 'source configuration'
  | 'table missing'
  | 'table extra'
  | 'relationship missing'
  | 'relationship extra'
  | 'relationship changed'
  | 'permission missing'
  | 'permission extra'
  | 'permission changed'
  | 'inconsistent object'
  | 'closed tenant registered';

export interface Drift {
  source: string;
  kind: DriftKind;
  /** The table, `table.relationship` or `table: kind/role` concerned ('' for the source itself). */
  object: string;
  detail?: string;
}

interface DesiredTable {
  table: { schema: string; name: string };
  relationships: Map<string, { list: (typeof RELATIONSHIP_LISTS)[number]; using: Record<string, unknown> }>;
  permissions: Map<string, Record<string, unknown>>;
}

export interface DesiredSource {
  name: string;
  addSource: Record<string, unknown>;
  tables: Map<string, DesiredTable>;
}

const asRecord = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {});
const tableKey = (t: { schema: string; name: string }) => `${t.schema}.${t.name}`;
const permKey = (kind: PermissionKind, role: string) => `${kind}/${role}`;

/** The source that the registration requests build (they must start with its pg_add_source). */
export function desiredSourceOf(requests: MetadataRequest[]): DesiredSource {
  const [add, ...rest] = requests;
  if (add?.type !== 'pg_add_source') throw new Error('tenant source requests must start with pg_add_source');
  const addSource = asRecord(add.args);
  const tables = new Map<string, DesiredTable>();
  const tableOf = (args: Record<string, unknown>): DesiredTable => {
    const table = qualified.parse(args['table']);
    const entry = tables.get(tableKey(table));
    if (!entry) throw new Error(`request for untracked table ${tableKey(table)}`);
    return entry;
  };
  for (const r of rest) {
    const args = asRecord(r.args);
    if (r.type === 'pg_track_table') {
      const table = qualified.parse(args['table']);
      tables.set(tableKey(table), { table, relationships: new Map(), permissions: new Map() });
      continue;
    }
    const rel = /^pg_create_(object|array)_relationship$/.exec(r.type);
    if (rel) {
      tableOf(args).relationships.set(String(args['name']), {
        list: `${rel[1] as 'object' | 'array'}_relationships`,
        using: asRecord(args['using']),
      });
      continue;
    }
    const perm = /^pg_create_(select|insert|update|delete)_permission$/.exec(r.type);
    if (perm) {
      tableOf(args).permissions.set(permKey(perm[1] as PermissionKind, String(args['role'])), asRecord(args['permission']));
      continue;
    }
    throw new Error(`unexpected request in a tenant source: ${r.type}`);
  }
  return { name: String(addSource['name']), addSource, tables };
}

/** JSON with sorted keys; column lists as sets; defaults Hasura may add or leave out, left out. */
function canonical(value: unknown, key = ''): string {
  if (Array.isArray(value)) {
    const items = value.map((v) => canonical(v));
    if (key === 'columns') items.sort();
    return `[${items.join(',')}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k, v]) => {
        if (v === undefined || v === null) return false;
        if ((k === 'backend_only' || k === 'allow_aggregations') && v === false) return false;
        if ((k === 'set' || k === 'computed_fields') && Object.keys(asRecord(v)).length === 0) return false;
        return true;
      })
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v, k)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sameJson = (a: unknown, b: unknown) => canonical(a) === canonical(b);

const connectionUrl = (configuration: Record<string, unknown>): unknown => asRecord(configuration['connection_info'])['database_url'];

export interface SourceDiff {
  drift: Drift[];
  /** Requests that turn the actual source into the desired one, in an order Hasura accepts within one bulk. */
  requests: MetadataRequest[];
}

/**
 * Compares one tenant source. Order of the repair: configuration, then drops
 * on tables that stay (so no cascade is needed), untracks, tracks, and only
 * then relationships and permissions (they name tables tracked before them).
 */
export function diffSource(actual: SourceMetadata | undefined, desired: DesiredSource, registration: MetadataRequest[]): SourceDiff {
  const source = desired.name;
  if (!actual) return { drift: [{ source, kind: 'source missing', object: '' }], requests: registration };
  const drift: Drift[] = [];
  const config: MetadataRequest[] = [];
  const drops: MetadataRequest[] = [];
  const untracks: MetadataRequest[] = [];
  const tracks: MetadataRequest[] = [];
  const relCreates: MetadataRequest[] = [];
  const permCreates: MetadataRequest[] = [];

  const wantedConfig = asRecord(desired.addSource['configuration']);
  const urlDiffers = !sameJson(connectionUrl(actual.configuration), connectionUrl(wantedConfig));
  if (urlDiffers || !sameJson(actual.customization ?? {}, desired.addSource['customization'] ?? {})) {
    drift.push({ source, kind: 'source configuration', object: '', detail: urlDiffers ? 'connection' : 'customization' });
    // Replacing the configuration keeps the tables: the namespace never disappears.
    config.push({ type: 'pg_add_source', args: { ...desired.addSource, replace_configuration: true } });
  }

  const actualTables = new Map(actual.tables.map((t) => [tableKey(t.table), t]));
  for (const [key, t] of actualTables) {
    if (desired.tables.has(key)) continue;
    drift.push({ source, kind: 'table extra', object: t.table.name });
    untracks.push({ type: 'pg_untrack_table', args: { source, table: t.table, cascade: true } });
  }

  const createRel = (want: DesiredTable, name: string) => {
    const rel = want.relationships.get(name)!;
    relCreates.push({
      type: rel.list === 'object_relationships' ? 'pg_create_object_relationship' : 'pg_create_array_relationship',
      args: { source, table: want.table, name, using: rel.using },
    });
  };
  const createPerm = (want: DesiredTable, key: string) => {
    const [kind, role] = key.split('/') as [PermissionKind, string];
    permCreates.push({
      type: `pg_create_${kind}_permission`,
      args: { source, table: want.table, role, permission: want.permissions.get(key) },
    });
  };

  for (const [key, want] of desired.tables) {
    const have = actualTables.get(key);
    if (!have) {
      drift.push({ source, kind: 'table missing', object: want.table.name });
      tracks.push({ type: 'pg_track_table', args: { source, table: want.table } });
      for (const name of want.relationships.keys()) createRel(want, name);
      for (const pk of want.permissions.keys()) createPerm(want, pk);
      continue;
    }
    const haveRels = new Map<string, { list: string; using: Record<string, unknown> }>();
    for (const list of RELATIONSHIP_LISTS) for (const r of have[list] ?? []) haveRels.set(r.name, { list, using: r.using });
    for (const [name, rel] of haveRels) {
      const wanted = want.relationships.get(name);
      if (wanted && wanted.list === rel.list && sameJson(wanted.using, rel.using)) continue;
      drift.push({ source, kind: wanted ? 'relationship changed' : 'relationship extra', object: `${want.table.name}.${name}` });
      drops.push({ type: 'pg_drop_relationship', args: { source, table: want.table, relationship: name } });
      if (wanted) createRel(want, name);
    }
    for (const name of want.relationships.keys()) {
      if (haveRels.has(name)) continue;
      drift.push({ source, kind: 'relationship missing', object: `${want.table.name}.${name}` });
      createRel(want, name);
    }
    const havePerms = new Map<string, Record<string, unknown>>();
    for (const kind of PERMISSION_KINDS)
      for (const p of have[`${kind}_permissions`] ?? []) havePerms.set(permKey(kind, p.role), p.permission);
    for (const [pk, permission] of havePerms) {
      const wanted = want.permissions.get(pk);
      if (wanted && sameJson(wanted, permission)) continue;
      const [kind, role] = pk.split('/') as [PermissionKind, string];
      drift.push({ source, kind: wanted ? 'permission changed' : 'permission extra', object: `${want.table.name}: ${kind}/${role}` });
      drops.push({ type: `pg_drop_${kind}_permission`, args: { source, table: want.table, role } });
      if (wanted) createPerm(want, pk);
    }
    for (const pk of want.permissions.keys()) {
      if (havePerms.has(pk)) continue;
      drift.push({ source, kind: 'permission missing', object: `${want.table.name}: ${pk}` });
      createPerm(want, pk);
    }
  }
  return { drift, requests: [...config, ...drops, ...untracks, ...tracks, ...relCreates, ...permCreates] };
}

/** Drift as an aligned text table (the CLI prints it). */
export function formatDriftTable(drift: readonly Drift[]): string {
  if (drift.length === 0) return 'no drift';
  const rows = [['SOURCE', 'DRIFT', 'OBJECT', 'DETAIL'], ...drift.map((d) => [d.source, d.kind, d.object || '-', d.detail ?? ''])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
