/**
 * In-process stand-in for Hasura's metadata API (`POST /v1/metadata`, `GET /healthz`), for tests of
 * code that configures Hasura (metadata apply, tenant provisioning, ...). Hasura cannot run here.
 *
 * Behaviour follows graphql-engine's server source (Hasura.Server.API.Metadata, Hasura.Base.Error,
 * Hasura.RQL.DDL.Schema.Source, ...) and the metadata API docs:
 *  - every body is validated with `validateMetadataRequest`; failures → 400
 *    `{path, error, code: "parse-failed"}` (the code the server's JSON decoding uses);
 *  - state changes are applied to a copy and committed only when the whole request succeeds (the
 *    server keeps metadata in a state monad and writes it once), so a failing `bulk` leaves nothing
 *    behind; `bulk_keep_going` rolls back just the failed command and reports it in its result list;
 *  - `bulk_atomic` accepts only the commands the server supports there (relationship create/drop);
 *    anything else → 500 "Bulk atomic does not support this command";
 *  - every successful modifying request increments `resource_version`; a request carrying a stale
 *    `resource_version` → 409 conflict (checked only for modifying requests, as in the server).
 *  - inconsistent objects: none arise by themselves (no database); a test marks a source or a table
 *    inconsistent (`markInconsistent`), `get_inconsistent_metadata` / `reload_metadata` report it in
 *    Hasura's shape (`{type, name: "table s.t in source x", definition, reason}`) until the object
 *    leaves the metadata (source dropped, table untracked) or `drop_inconsistent_metadata` removes it;
 *  - `unreachable(true)` drops every connection without an answer, as a Hasura that is down.
 * Not modelled (no database): column/table existence in Postgres.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jsonPointerToHasuraPath, metadataRequestIssues, validateMetadata, type PermissionKind } from './hasura-schema.ts';

export interface QualifiedTable {
  schema: string;
  name: string;
}
export interface PermissionEntry {
  role: string;
  permission: Record<string, unknown>;
  comment?: string;
}
export interface RelationshipEntry {
  name: string;
  using: Record<string, unknown>;
  comment?: string;
}
export interface TableEntry {
  table: QualifiedTable;
  configuration?: Record<string, unknown>;
  is_enum?: boolean;
  object_relationships?: RelationshipEntry[];
  array_relationships?: RelationshipEntry[];
  select_permissions?: PermissionEntry[];
  insert_permissions?: PermissionEntry[];
  update_permissions?: PermissionEntry[];
  delete_permissions?: PermissionEntry[];
  [key: string]: unknown;
}
export interface SourceEntry {
  name: string;
  kind: string;
  tables: TableEntry[];
  configuration: Record<string, unknown>;
  customization?: Record<string, unknown>;
  [key: string]: unknown;
}
/** Metadata in `export_metadata` format (version 3). */
export interface MetadataJson {
  version: 3;
  sources: SourceEntry[];
  [key: string]: unknown;
}

export interface HasuraDoubleOptions {
  adminSecret: string;
  /** Initial metadata (version 3; must pass `validateMetadata`). Default: no sources. */
  metadata?: unknown;
  /** Initial resource_version. Default 1. */
  resourceVersion?: number;
}

export interface HasuraDouble {
  /** Base URL (`http://127.0.0.1:<port>`), as for HASURA_GRAPHQL_ENDPOINT. */
  readonly url: string;
  /** `${url}/v1/metadata`. */
  readonly metadataUrl: string;
  /** Every body POSTed to /v1/metadata, in arrival order (also unauthorised / invalid ones). */
  readonly requests: readonly unknown[];
  readonly resourceVersion: number;
  /** Current metadata in export format (a copy). */
  metadata(): MetadataJson;
  /** The next `times` (default 1) commands of this type — top-level or inside a bulk — fail with `status` (default 500). */
  failOn(type: string, times?: number, status?: number): void;
  /** Marks a source (or one of its tables) inconsistent, as Hasura does when the database does not match. */
  markInconsistent(object: InconsistentMark): void;
  /** While true, every request's connection is dropped without an answer (Hasura down). */
  unreachable(down: boolean): void;
  /** Back to the initial metadata and resource_version; clears recorded requests, failOn rules, inconsistencies and unreachable. */
  reset(): void;
  close(): Promise<void>;
}

export interface InconsistentMark {
  source: string;
  /** A table of the source; absent: the source itself. */
  table?: QualifiedTable;
  reason?: string;
}

/** The error body Hasura sends: `{path, error, code}`. */
export interface HasuraErrorBody {
  path: string;
  error: string;
  code: string;
}

class HasuraError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path: string,
  ) {
    super(message);
  }
  body(): HasuraErrorBody {
    return { path: this.path, error: this.message, code: this.code };
  }
}

type JsonObject = Record<string, unknown>;
const isRecord = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const SUCCESS = { message: 'success' } as const;
const NOT_MODIFYING = new Set(['export_metadata', 'get_inconsistent_metadata']);
const consistency = (draft: Draft) => {
  const objects = inconsistentObjects(draft.inconsistent);
  return { is_consistent: objects.length === 0, inconsistent_objects: objects };
};
const BULK_ATOMIC_SUPPORTED = new Set(['pg_create_object_relationship', 'pg_create_array_relationship', 'pg_drop_relationship']);
const TABLE_LISTS = [
  'object_relationships',
  'array_relationships',
  'computed_fields',
  'remote_relationships',
  'select_permissions',
  'insert_permissions',
  'update_permissions',
  'delete_permissions',
  'event_triggers',
] as const;

function normalizeTable(table: unknown): QualifiedTable {
  if (typeof table === 'string') return { schema: 'public', name: table };
  if (isRecord(table) && typeof table.name === 'string') {
    return { schema: typeof table.schema === 'string' ? table.schema : 'public', name: table.name };
  }
  throw new HasuraError(400, 'parse-failed', 'expected a table name', '$.args.table');
}

const tableText = (t: QualifiedTable): string => `"${t.schema}.${t.name}"`;
const sameTable = (a: QualifiedTable, b: QualifiedTable): boolean => a.schema === b.schema && a.name === b.name;

/** Strip empty lists/objects the way export_metadata omits them (sources and tables stay). */
function exportCopy(md: MetadataJson): MetadataJson {
  const copy = structuredClone(md);
  for (const [key, value] of Object.entries(copy)) {
    if (key === 'version' || key === 'sources') continue;
    if ((Array.isArray(value) && value.length === 0) || (isRecord(value) && Object.keys(value).length === 0) || value === undefined) {
      delete copy[key];
    }
  }
  for (const source of copy.sources) {
    for (const table of source.tables) {
      for (const list of TABLE_LISTS) {
        const value = table[list];
        if (Array.isArray(value) && value.length === 0) delete table[list];
      }
    }
  }
  return copy;
}

/** Copy validated version-3 metadata into the double's state shape (table names normalised). */
function toState(metadata: unknown): MetadataJson {
  const errors = validateMetadata(metadata);
  if (errors.length > 0) throw new HasuraError(400, 'parse-failed', errors.join('; '), '$.args');
  if (!isRecord(metadata) || metadata.version !== 3 || !Array.isArray(metadata.sources)) {
    throw new HasuraError(400, 'not-supported', 'the Hasura double only accepts version 3 metadata', '$.args');
  }
  const copy = structuredClone(metadata) as JsonObject & { sources: JsonObject[] };
  const sources: SourceEntry[] = copy.sources.map((source) => {
    const tables = Array.isArray(source.tables) ? source.tables.filter(isRecord) : [];
    return {
      ...source,
      name: String(source.name),
      kind: String(source.kind),
      configuration: isRecord(source.configuration) ? source.configuration : {},
      tables: tables.map((t) => ({ ...t, table: normalizeTable(t.table) })),
    };
  });
  return { ...copy, version: 3, sources };
}

interface Failure {
  type: string;
  remaining: number;
  status: number;
}

interface ExecContext {
  /** Hasura JSON path of the command being executed (`$` or `$.args[2]`). */
  path: string;
  resourceVersion: number;
  failures: Failure[];
}

interface Draft {
  md: MetadataJson;
  inconsistent: InconsistentMark[];
}

function inconsistentObjects(marks: readonly InconsistentMark[]): JsonObject[] {
  return marks.map((m) =>
    m.table
      ? {
          type: 'table',
          name: `table ${m.table.schema}.${m.table.name} in source ${m.source}`,
          definition: m.table,
          reason: m.reason ?? `Inconsistent object: no such table/view exists in source: ${tableText(m.table)}`,
        }
      : { type: 'source', name: `source ${m.source}`, definition: m.source, reason: m.reason ?? 'Inconsistent object: connection error' },
  );
}

const FAILURE_CODES: Record<number, string> = { 400: 'bad-request', 401: 'access-denied', 404: 'not-found', 409: 'conflict' };

function injectedFailure(type: string, ctx: ExecContext): void {
  const rule = ctx.failures.find((f) => f.type === type && f.remaining > 0);
  if (!rule) return;
  rule.remaining -= 1;
  throw new HasuraError(rule.status, FAILURE_CODES[rule.status] ?? 'unexpected', `injected failure for "${type}"`, ctx.path);
}

function modifies(request: JsonObject): boolean {
  const type = String(request.type);
  if (type.startsWith('bulk')) return Array.isArray(request.args) && request.args.some((r) => isRecord(r) && modifies(r));
  return !NOT_MODIFYING.has(type);
}

function execute(request: JsonObject, draft: Draft, ctx: ExecContext): unknown {
  const type = String(request.type);
  const args: unknown = request.args;
  const a: JsonObject = isRecord(args) ? args : {};
  const argsPath = `${ctx.path}.args`;
  const fail = (status: number, code: string, message: string): never => {
    throw new HasuraError(status, code, message, argsPath);
  };
  injectedFailure(type, ctx);

  const md = draft.md;
  const findSource = (name: unknown): SourceEntry => {
    const sourceName = typeof name === 'string' ? name : 'default';
    const source = md.sources.find((s) => s.name === sourceName);
    return source ?? fail(400, 'not-exists', `source with name "${sourceName}" does not exist`);
  };
  const findTable = (source: SourceEntry, table: QualifiedTable): TableEntry =>
    source.tables.find((t) => sameTable(t.table, table)) ??
    fail(400, 'not-exists', `table ${tableText(table)} does not exist in source: ${source.name}`);

  const permMatch = /^pg_(create|drop)_(select|insert|update|delete)_permission$/.exec(type);
  if (permMatch) {
    const [, verb, kind] = permMatch as unknown as [string, 'create' | 'drop', PermissionKind];
    const source = findSource(a.source);
    const table = normalizeTable(a.table);
    const entry = findTable(source, table);
    const listKey = `${kind}_permissions` as const;
    const list = entry[listKey] ?? [];
    const role = String(a.role);
    const index = list.findIndex((p) => p.role === role);
    if (verb === 'create') {
      if (role === 'admin') fail(400, 'constraint-violation', 'cannot define permission for admin role');
      if (index >= 0) fail(400, 'already-exists', `${kind} permission already defined on table ${tableText(table)} with role "${role}"`);
      const permission = isRecord(a.permission) ? a.permission : {};
      list.push({ role, permission, ...(typeof a.comment === 'string' ? { comment: a.comment } : {}) });
    } else {
      if (index < 0) fail(400, 'not-exists', `${kind} permission for role "${role}" does not exist on table ${tableText(table)}`);
      list.splice(index, 1);
    }
    entry[listKey] = list;
    return SUCCESS;
  }

  switch (type) {
    case 'pg_add_source': {
      const name = String(a.name);
      const existing = md.sources.find((s) => s.name === name);
      const configuration = isRecord(a.configuration) ? a.configuration : {};
      const customization = isRecord(a.customization) ? a.customization : undefined;
      if (existing) {
        if (a.replace_configuration !== true) fail(400, 'already-exists', `source with name "${name}" already exists`);
        existing.configuration = configuration;
        if (customization) existing.customization = customization;
        else delete existing.customization;
        return SUCCESS;
      }
      md.sources.push({
        name,
        kind: 'postgres',
        tables: [],
        configuration,
        ...(customization ? { customization } : {}),
        ...(isRecord(a.health_check) ? { health_check: a.health_check } : {}),
      });
      return SUCCESS;
    }
    case 'pg_drop_source': {
      const name = String(a.name);
      const index = md.sources.findIndex((s) => s.name === name);
      if (index < 0) fail(400, 'not-exists', `source with name "${name}" does not exist`);
      md.sources.splice(index, 1);
      draft.inconsistent = draft.inconsistent.filter((m) => m.source !== name);
      return SUCCESS;
    }
    case 'pg_track_table': {
      const source = findSource(a.source);
      const table = normalizeTable(a.table);
      if (source.tables.some((t) => sameTable(t.table, table)))
        fail(400, 'already-tracked', `view/table already tracked: ${tableText(table)}`);
      const configuration = isRecord(a.configuration) && Object.keys(a.configuration).length > 0 ? a.configuration : undefined;
      source.tables.push({
        table,
        ...(configuration ? { configuration } : {}),
        ...(a.is_enum === true ? { is_enum: true } : {}),
        ...(isRecord(a.apollo_federation_config) ? { apollo_federation_config: a.apollo_federation_config } : {}),
      });
      return SUCCESS;
    }
    case 'pg_untrack_table': {
      const source = findSource(a.source);
      const table = normalizeTable(a.table);
      const index = source.tables.findIndex((t) => sameTable(t.table, table));
      if (index < 0) fail(400, 'already-untracked', `view/table already untracked: ${tableText(table)}`);
      const dependents = relationshipsPointingAt(source, table);
      if (dependents.length > 0 && a.cascade !== true) {
        fail(400, 'dependency-error', `cannot drop due to the following dependent objects: ${dependents.map((d) => d.label).join(', ')}`);
      }
      for (const d of dependents) d.remove();
      source.tables.splice(
        source.tables.findIndex((t) => sameTable(t.table, table)),
        1,
      );
      draft.inconsistent = draft.inconsistent.filter((m) => !(m.source === source.name && m.table && sameTable(m.table, table)));
      return SUCCESS;
    }
    case 'pg_create_object_relationship':
    case 'pg_create_array_relationship': {
      const source = findSource(a.source);
      const table = normalizeTable(a.table);
      const entry = findTable(source, table);
      const name = String(a.name);
      const taken = [...(entry.object_relationships ?? []), ...(entry.array_relationships ?? [])].some((r) => r.name === name);
      if (taken) fail(400, 'already-exists', `relationship "${name}" already exists on table ${tableText(table)}`);
      const using = isRecord(a.using) ? a.using : {};
      const remote = remoteTableOf(using);
      if (remote && !source.tables.some((t) => sameTable(t.table, remote))) {
        fail(
          400,
          'invalid-configuration',
          `Inconsistent object: in table ${tableText(table)}: in relationship "${name}": table ${tableText(remote)} is not tracked`,
        );
      }
      const listKey = type === 'pg_create_object_relationship' ? 'object_relationships' : 'array_relationships';
      const list = entry[listKey] ?? [];
      list.push({ name, using, ...(typeof a.comment === 'string' ? { comment: a.comment } : {}) });
      entry[listKey] = list;
      return SUCCESS;
    }
    case 'pg_drop_relationship': {
      const source = findSource(a.source);
      const table = normalizeTable(a.table);
      const entry = findTable(source, table);
      const name = String(a.relationship);
      for (const listKey of ['object_relationships', 'array_relationships'] as const) {
        const list = entry[listKey] ?? [];
        const index = list.findIndex((r) => r.name === name);
        if (index >= 0) {
          list.splice(index, 1);
          return SUCCESS;
        }
      }
      return fail(400, 'not-exists', `relationship "${name}" does not exist on table ${tableText(table)}`);
    }
    case 'export_metadata': {
      const metadata = exportCopy(md);
      return request.version === 2 ? { resource_version: ctx.resourceVersion, metadata } : metadata;
    }
    case 'replace_metadata': {
      const v2Shape = request.version === 2 || 'metadata' in a;
      draft.md = toState(v2Shape ? a.metadata : args);
      return v2Shape ? { is_consistent: true, inconsistent_objects: [] } : SUCCESS;
    }
    case 'reload_metadata': {
      const { is_consistent, inconsistent_objects } = consistency(draft);
      return is_consistent ? { message: 'success', is_consistent } : { message: 'success', is_consistent, inconsistent_objects };
    }
    case 'clear_metadata':
      draft.md = { version: 3, sources: [] };
      draft.inconsistent = [];
      return SUCCESS;
    case 'get_inconsistent_metadata':
      return consistency(draft);
    case 'drop_inconsistent_metadata': {
      // Hasura removes the inconsistent objects from the metadata.
      for (const m of draft.inconsistent) {
        const index = md.sources.findIndex((x) => x.name === m.source);
        if (index < 0) continue;
        if (!m.table) md.sources.splice(index, 1);
        else md.sources[index]!.tables = md.sources[index]!.tables.filter((t) => !sameTable(t.table, m.table!));
      }
      draft.inconsistent = [];
      return SUCCESS;
    }
    case 'bulk':
      return (Array.isArray(args) ? args : []).map((sub, i) => execute(sub as JsonObject, draft, { ...ctx, path: `${argsPath}[${i}]` }));
    case 'bulk_keep_going':
      return (Array.isArray(args) ? args : []).map((sub, i) => {
        const before = structuredClone(draft.md);
        try {
          return execute(sub as JsonObject, draft, { ...ctx, path: `${argsPath}[${i}]` });
        } catch (err) {
          if (!(err instanceof HasuraError)) throw err;
          draft.md = before;
          return err.body();
        }
      });
    case 'bulk_atomic': {
      const subs = (Array.isArray(args) ? args : []) as JsonObject[];
      subs.forEach((sub, i) => {
        const subType = String(sub.type);
        const path = `${argsPath}[${i}]`;
        if (!BULK_ATOMIC_SUPPORTED.has(subType) || (sub.version ?? 1) !== 1) {
          throw new HasuraError(500, 'unexpected', 'Bulk atomic does not support this command', path);
        }
        execute(sub, draft, { ...ctx, path });
      });
      return SUCCESS;
    }
    default:
      return fail(400, 'parse-failed', `unknown metadata command "${type}"`);
  }
}

function remoteTableOf(using: JsonObject): QualifiedTable | undefined {
  const fk = using.foreign_key_constraint_on;
  if (isRecord(fk) && fk.table !== undefined) return normalizeTable(fk.table);
  const manual = using.manual_configuration;
  if (isRecord(manual) && manual.remote_table !== undefined) return normalizeTable(manual.remote_table);
  return undefined;
}

function relationshipsPointingAt(source: SourceEntry, table: QualifiedTable): { label: string; remove: () => void }[] {
  const found: { label: string; remove: () => void }[] = [];
  for (const entry of source.tables) {
    if (sameTable(entry.table, table)) continue;
    for (const listKey of ['object_relationships', 'array_relationships'] as const) {
      for (const rel of entry[listKey] ?? []) {
        const remote = remoteTableOf(rel.using);
        if (remote && sameTable(remote, table)) {
          found.push({
            label: `relationship "${rel.name}" on table ${tableText(entry.table)}`,
            remove: () => {
              entry[listKey] = (entry[listKey] ?? []).filter((r) => r !== rel);
            },
          });
        }
      }
    }
  }
  return found;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8' });
  res.end(text);
}

export async function startHasuraDouble(opts: HasuraDoubleOptions): Promise<HasuraDouble> {
  const initialMetadata: MetadataJson = opts.metadata === undefined ? { version: 3, sources: [] } : toState(opts.metadata);
  const initialResourceVersion = opts.resourceVersion ?? 1;
  let state = structuredClone(initialMetadata);
  let resourceVersion = initialResourceVersion;
  const requests: unknown[] = [];
  const failures: Failure[] = [];
  let inconsistent: InconsistentMark[] = [];
  let down = false;

  const handleMetadata = (req: IncomingMessage, raw: string): { status: number; body: unknown } => {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      requests.push(raw);
      return { status: 400, body: { path: '$', error: 'Error in $: not a valid json value', code: 'invalid-json' } };
    }
    requests.push(body);

    const secret = req.headers['x-hasura-admin-secret'];
    if (secret === undefined) {
      return {
        status: 401,
        body: { path: '$', error: 'x-hasura-admin-secret/x-hasura-access-key required, but not found', code: 'access-denied' },
      };
    }
    if (secret !== opts.adminSecret) {
      return { status: 401, body: { path: '$', error: 'invalid x-hasura-admin-secret/x-hasura-access-key', code: 'access-denied' } };
    }

    const issues = metadataRequestIssues(body);
    const first = issues[0];
    if (first) {
      return {
        status: 400,
        body: { path: jsonPointerToHasuraPath(first.path), error: issues.map((i) => i.message).join('; '), code: 'parse-failed' },
      };
    }
    const request = body as JsonObject; // validated above

    const draft: Draft = { md: structuredClone(state), inconsistent: structuredClone(inconsistent) };
    try {
      const result = execute(request, draft, { path: '$', resourceVersion, failures });
      if (!modifies(request)) return { status: 200, body: result };
      const referenced = request.resource_version;
      if (typeof referenced === 'number' && referenced !== resourceVersion) {
        return {
          status: 409,
          body: {
            path: '$',
            error: `metadata resource version referenced (${referenced}) did not match current version`,
            code: 'conflict',
          },
        };
      }
      state = draft.md;
      inconsistent = draft.inconsistent;
      resourceVersion += 1;
      return { status: 200, body: result };
    } catch (err) {
      if (err instanceof HasuraError) return { status: err.status, body: err.body() };
      throw err;
    }
  };

  const server = createServer((req, res) => {
    if (down) {
      req.socket.destroy();
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz' || path === '/hasura/healthz') {
      if (req.method === 'GET' || req.method === 'HEAD') return send(res, 200, 'OK');
      return send(res, 405, { path: '$', error: 'method not allowed', code: 'method-not-allowed' });
    }
    if (path !== '/v1/metadata') return send(res, 404, { path: '$', error: 'resource does not exist', code: 'not-found' });
    if (req.method !== 'POST') return send(res, 405, { path: '$', error: 'method not allowed', code: 'method-not-allowed' });
    readBody(req).then(
      (raw) => {
        const { status, body } = handleMetadata(req, raw);
        send(res, status, body);
      },
      (err: unknown) => send(res, 500, { path: '$', error: String(err), code: 'unexpected' }),
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    metadataUrl: `${url}/v1/metadata`,
    requests,
    get resourceVersion() {
      return resourceVersion;
    },
    metadata: () => exportCopy(state),
    failOn(type, times = 1, status = 500) {
      failures.push({ type, remaining: times, status });
    },
    markInconsistent(object) {
      inconsistent.push(structuredClone(object));
    },
    unreachable(value) {
      down = value;
    },
    reset() {
      inconsistent = [];
      down = false;
      state = structuredClone(initialMetadata);
      resourceVersion = initialResourceVersion;
      requests.length = 0;
      failures.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
