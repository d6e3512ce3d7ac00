/**
 * Validation of Hasura metadata, metadata API request bodies and permission boolean expressions,
 * for tests and the metadata API double (`hasura-double.ts`).
 *
 * WHAT COMES FROM HASURA'S OWN SCHEMA (`hasura/schema/metadata.openapi.json`, graphql-engine
 * commit 1181ca78a3493bfe7daeefbb3d27d10160f45f80, converted for ajv draft-07):
 *  - `validateMetadata`: the whole document against `Metadata` (MetadataV1 | V2 | V3). Two `oneOf`s
 *    are re-expressed as the dispatch the server itself does, so errors name one branch instead of
 *    every branch and so a Postgres source with `tables: []` is not ambiguous with the Data Connector
 *    branch (whose `kind` is any string): `Metadata` dispatches on `version` (3 → V3, 2 → V2,
 *    1 or absent → V1, anything else → a `version` error) and `SourceMetadata` on `kind` (unknown
 *    kinds → Data Connector). Conversion: refs rewritten, `nullable` → null unions, OpenAPI-only
 *    keywords dropped, plus two data fixes ajv needs (an infinite `maximum`, a duplicated enum value).
 *  - Inside request `args` (via `$ref`s into the converted schema set):
 *    pg_add_source `configuration` = `PostgresConnConfiguration` (connection_info, database_url,
 *    pool_settings, isolation_level, ssl...), `customization` = `SourceCustomization`,
 *    `health_check` = `PostgresHealthCheckConfig`; table names = `PostgresQualified_TableName` |
 *    string; pg_track_table `configuration` = `PostgresTableConfig`, `apollo_federation_config`;
 *    pg_create_{select,insert,update,delete}_permission `permission` = `PostgresSelPerm` /
 *    `PostgresInsPerm` / `PostgresUpdPerm` / `PostgresDelPerm`; pg_create_{object,array}_relationship
 *    `using` = the `using` property of the Postgres `RelDef_RelUsing...` definitions;
 *    replace_metadata's metadata = `Metadata`.
 *
 * WHAT IS CHECKED BY HAND (the document has no request schemas at all — `paths` is empty and no
 * definition describes a command — and leaves boolean expressions free-form):
 *  - The request envelope `{type, args, version?, resource_version?}`: `type` must be one of the
 *    commands below (anything else → `unknown metadata command`), `args` present, `version` 1 | 2
 *    (2 only for export_metadata / replace_metadata, as in the server's RQLMetadataV2),
 *    `resource_version` a non-negative integer; other envelope keys are rejected.
 *  - Each command's `args` object shape (keys, required keys, primitive types) from the metadata
 *    API docs / hasura/README.md §8. Unknown keys are rejected: STRICTER than the server, which ignores
 *    them, so that typos in our own requests surface.
 *  - bulk / bulk_atomic / bulk_keep_going: `args` is an array of requests, each validated
 *    recursively. (Which commands bulk_atomic accepts is execution semantics, left to the double.)
 *  - replace_metadata: v1 args = metadata object, or `{allow_inconsistent_metadata?,
 *    allow_warnings?, metadata}` (the server infers which); v2 args = the latter.
 *  - Permission rules: operators (hasura/README.md §6 list, `_x` and `$x` spellings), `_exists` shape,
 *    session-variable spelling in values and in `set` presets (see `checkBoolExp`). Columns cannot
 *    be checked in requests (no database), so there the check is structural only. The same
 *    structural check over a whole metadata object: `checkMetadataPermissions` (separate from
 *    `validateMetadata`, which stays schema-only).
 *
 * Commands covered: pg_add_source, pg_drop_source, pg_track_table, pg_untrack_table,
 * pg_create_{select,insert,update,delete}_permission, pg_drop_{select,insert,update,delete}_permission,
 * pg_create_object_relationship, pg_create_array_relationship, pg_drop_relationship, bulk,
 * bulk_atomic, bulk_keep_going, export_metadata, replace_metadata, reload_metadata, clear_metadata,
 * get_inconsistent_metadata, drop_inconsistent_metadata.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv';

export const METADATA_SCHEMA_PATH = fileURLToPath(new URL('../../hasura/schema/metadata.openapi.json', import.meta.url));

/** One problem found; `path` is a JSON pointer into the validated value ('' = the root). */
export interface SchemaIssue {
  path: string;
  message: string;
}

type JsonObject = Record<string, unknown>;

function isRecord(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const formatIssue = (i: SchemaIssue): string => `${i.path === '' ? '/' : i.path} ${i.message}`;

/** JSON pointer → the `$.a[0].b` style paths Hasura puts in its error bodies. */
export function jsonPointerToHasuraPath(pointer: string): string {
  if (pointer === '') return '$';
  return (
    '$' +
    pointer
      .split('/')
      .slice(1)
      .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : /^[A-Z_][\w-]*$/i.test(seg) ? `.${seg}` : `['${seg}']`))
      .join('')
  );
}

// ---------------------------------------------------------------------------------------------
// OpenAPI components.schemas → ajv (draft-07) schema set

const SCHEMA_ID = 'hasura-metadata';
const OPENAPI_REF_PREFIX = '#/components/schemas/';
const ref = (name: string): SchemaObject => ({ $ref: `${SCHEMA_ID}#/definitions/${name}` });

// Keywords copied verbatim; everything else that is not handled structurally below (nullable,
// default, discriminator, example, externalDocs, readOnly, ...) is OpenAPI-only or an annotation.
const PASSTHROUGH = new Set([
  'type',
  'const',
  'required',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'description',
  'title',
]);

function convertSchema(node: unknown, where: string): unknown {
  if (typeof node === 'boolean') return node;
  if (!isRecord(node)) throw new Error(`metadata schema: expected a schema object at ${where}`);
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (value === null || value === undefined) continue;
    // Limit_MaxTime's `maximum` is 2^1024 in the file, which JSON.parse turns into Infinity
    if (typeof value === 'number' && !Number.isFinite(value)) continue;
    const at = `${where}/${key}`;
    switch (key) {
      case '$ref': {
        if (typeof value !== 'string' || !value.startsWith(OPENAPI_REF_PREFIX)) {
          throw new Error(`metadata schema: unsupported $ref ${JSON.stringify(value)} at ${at}`);
        }
        out.$ref = `${SCHEMA_ID}#/definitions/${value.slice(OPENAPI_REF_PREFIX.length)}`;
        break;
      }
      case 'properties':
      case 'patternProperties': {
        if (!isRecord(value)) throw new Error(`metadata schema: ${at} is not an object`);
        out[key] = Object.fromEntries(Object.entries(value).map(([p, s]) => [p, convertSchema(s, `${at}/${p}`)]));
        break;
      }
      case 'items':
        out.items = Array.isArray(value) ? value.map((s, i) => convertSchema(s, `${at}/${i}`)) : convertSchema(value, at);
        break;
      case 'additionalProperties':
      case 'not':
        out[key] = convertSchema(value, at);
        break;
      case 'oneOf':
      case 'anyOf':
      case 'allOf':
        if (!Array.isArray(value)) throw new Error(`metadata schema: ${at} is not an array`);
        out[key] = value.map((s, i) => convertSchema(s, `${at}/${i}`));
        break;
      case 'enum':
        // MysqlNullableScalarType lists a value twice, which ajv rejects
        out.enum = Array.isArray(value) ? [...new Map(value.map((v) => [JSON.stringify(v), v])).values()] : value;
        break;
      default:
        if (PASSTHROUGH.has(key)) out[key] = value;
    }
  }
  return node.nullable === true ? makeNullable(out) : out;
}

// OpenAPI 3.0 `nullable: true` → JSON-schema null union.
function makeNullable(schema: JsonObject): JsonObject {
  const simple =
    typeof schema.type === 'string' &&
    !('$ref' in schema) &&
    !('oneOf' in schema) &&
    !('anyOf' in schema) &&
    !('allOf' in schema) &&
    !('not' in schema);
  if (simple) {
    const enumValues = schema.enum;
    return {
      ...schema,
      type: [schema.type, 'null'],
      ...(Array.isArray(enumValues) && !enumValues.includes(null) ? { enum: [...enumValues, null] } : {}),
    };
  }
  return { anyOf: [{ type: 'null' }, schema] };
}

function refName(schema: unknown): string | undefined {
  if (!isRecord(schema) || typeof schema.$ref !== 'string' || !schema.$ref.startsWith(OPENAPI_REF_PREFIX)) return undefined;
  return schema.$ref.slice(OPENAPI_REF_PREFIX.length);
}

/** `SourceMetadata`: oneOf per backend → if/then/else on `kind`, as the server parses it. */
function sourceKindDispatch(raw: Record<string, unknown>): SchemaObject | undefined {
  const source = raw.SourceMetadata;
  if (!isRecord(source) || !Array.isArray(source.oneOf)) return undefined;
  const fixed: { name: string; kinds: unknown[] }[] = [];
  let fallback: string | undefined;
  for (const branch of source.oneOf) {
    const name = refName(branch);
    const def = name === undefined ? undefined : raw[name];
    if (name === undefined || !isRecord(def) || !isRecord(def.properties)) return undefined;
    const kind = def.properties.kind;
    if (isRecord(kind) && Array.isArray(kind.enum)) fixed.push({ name, kinds: kind.enum });
    else if (fallback === undefined) fallback = name;
    else return undefined; // more than one open-ended branch: keep Hasura's oneOf
  }
  let schema: SchemaObject = fallback === undefined ? { not: {} } : ref(fallback);
  for (const { name, kinds } of fixed.reverse()) {
    schema = { if: { properties: { kind: { enum: kinds } }, required: ['kind'] }, then: ref(name), else: schema };
  }
  return schema;
}

/** `Metadata`: oneOf V1/V2/V3 → dispatch on `version`, as the server parses it. */
function metadataVersionDispatch(raw: Record<string, unknown>): SchemaObject | undefined {
  const md = raw.Metadata;
  if (!isRecord(md) || !Array.isArray(md.oneOf)) return undefined;
  const names = md.oneOf.map(refName);
  if (!['MetadataV1', 'MetadataV2', 'MetadataV3'].every((n) => names.includes(n))) return undefined;
  const isVersion = (v: number): SchemaObject => ({ properties: { version: { const: v } }, required: ['version'] });
  return {
    type: 'object',
    if: isVersion(3),
    then: ref('MetadataV3'),
    else: {
      if: isVersion(2),
      then: ref('MetadataV2'),
      // V1 has an optional `version: 1`; any other version is reported as such, not as a V1 mismatch
      else: {
        if: { properties: { version: { const: 1 } } },
        then: ref('MetadataV1'),
        else: { properties: { version: { enum: [1, 2, 3] } } },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Hand-written request args schemas (reusing Hasura definitions through $ref)

const str: SchemaObject = { type: 'string' };
const bool: SchemaObject = { type: 'boolean' };
const tableName: SchemaObject = { anyOf: [ref('PostgresQualified_TableName'), str] };
const boolOrNames: SchemaObject = { anyOf: [bool, { type: 'array', items: str }] };
const OBJ_REL_DEF = 'RelDef_RelUsing___Postgres__Vanilla___ObjRelUsingChoice___Postgres__Vanilla__';
const ARR_REL_DEF = 'RelDef_RelUsing___Postgres__Vanilla___ArrRelUsingFKeyOn___Postgres__Vanilla__';
const propertyOf = (def: string, prop: string): SchemaObject => ({
  $ref: `${SCHEMA_ID}#/definitions/${def}/properties/${prop}`,
});

function strictObject(properties: Record<string, SchemaObject>, required: string[]): SchemaObject {
  return { type: 'object', properties, required, additionalProperties: false };
}

const anyObject: SchemaObject = { type: 'object' };

const permissionArgs = (permissionDef: string): SchemaObject =>
  strictObject({ source: str, table: tableName, role: str, permission: ref(permissionDef), comment: { type: ['string', 'null'] } }, [
    'table',
    'role',
    'permission',
  ]);
const dropPermissionArgs = strictObject({ source: str, table: tableName, role: str }, ['table', 'role']);
const relationshipArgs = (relDef: string): SchemaObject =>
  strictObject({ source: str, table: tableName, name: str, using: propertyOf(relDef, 'using'), comment: { type: ['string', 'null'] } }, [
    'table',
    'name',
    'using',
  ]);
const replaceMetadataV2Args = strictObject({ allow_inconsistent_metadata: bool, allow_warnings: bool, metadata: ref('Metadata') }, [
  'metadata',
]);

/** Permission kinds and where their boolean expressions live inside `permission`. */
export const PERMISSION_BOOL_EXP_KEYS = {
  select: ['filter'],
  insert: ['check'],
  update: ['filter', 'check'],
  delete: ['filter'],
} as const;
export type PermissionKind = keyof typeof PERMISSION_BOOL_EXP_KEYS;
const PERMISSION_KINDS = Object.keys(PERMISSION_BOOL_EXP_KEYS) as PermissionKind[];
const PERMISSION_DEFS: Record<PermissionKind, string> = {
  select: 'PostgresSelPerm',
  insert: 'PostgresInsPerm',
  update: 'PostgresUpdPerm',
  delete: 'PostgresDelPerm',
};

const ARGS_SCHEMAS: Record<string, SchemaObject> = {
  pg_add_source: strictObject(
    {
      name: str,
      configuration: ref('PostgresConnConfiguration'),
      replace_configuration: bool,
      customization: ref('SourceCustomization'),
      health_check: ref('PostgresHealthCheckConfig'),
    },
    ['name', 'configuration'],
  ),
  pg_drop_source: strictObject({ name: str, cascade: bool }, ['name']),
  pg_track_table: strictObject(
    {
      source: str,
      table: tableName,
      configuration: ref('PostgresTableConfig'),
      is_enum: bool,
      apollo_federation_config: ref('ApolloFederationConfig'),
    },
    ['table'],
  ),
  pg_untrack_table: strictObject({ source: str, table: tableName, cascade: bool }, ['table']),
  ...Object.fromEntries(
    PERMISSION_KINDS.flatMap((kind) => [
      [`pg_create_${kind}_permission`, permissionArgs(PERMISSION_DEFS[kind])],
      [`pg_drop_${kind}_permission`, dropPermissionArgs],
    ]),
  ),
  pg_create_object_relationship: relationshipArgs(OBJ_REL_DEF),
  pg_create_array_relationship: relationshipArgs(ARR_REL_DEF),
  pg_drop_relationship: strictObject({ source: str, table: tableName, relationship: str, cascade: bool }, ['table', 'relationship']),
  export_metadata: anyObject,
  reload_metadata: strictObject(
    { reload_remote_schemas: boolOrNames, reload_sources: boolOrNames, recreate_event_triggers: boolOrNames },
    [],
  ),
  clear_metadata: anyObject,
  get_inconsistent_metadata: anyObject,
  drop_inconsistent_metadata: anyObject,
};

export const BULK_TYPES = ['bulk', 'bulk_atomic', 'bulk_keep_going'] as const;
const SPECIAL_TYPES = [...BULK_TYPES, 'replace_metadata'] as const;
const V2_TYPES = new Set(['export_metadata', 'replace_metadata']);

/** Every `type` that `validateMetadataRequest` knows (anything else is rejected). */
export const KNOWN_METADATA_COMMANDS: readonly string[] = [...Object.keys(ARGS_SCHEMAS), ...SPECIAL_TYPES];

// ---------------------------------------------------------------------------------------------
// Lazy, cached compilation

interface Compiled {
  ajv: Ajv;
  metadata: ValidateFunction;
  args: Map<string, ValidateFunction>;
}
let compiled: Compiled | undefined;

function loadDefinitions(): Record<string, unknown> {
  const doc: unknown = JSON.parse(readFileSync(METADATA_SCHEMA_PATH, 'utf8'));
  if (!isRecord(doc) || !isRecord(doc.components) || !isRecord(doc.components.schemas)) {
    throw new Error(`${METADATA_SCHEMA_PATH}: no components.schemas`);
  }
  const raw = doc.components.schemas;
  const definitions: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(raw)) definitions[name] = convertSchema(schema, name);
  const source = sourceKindDispatch(raw);
  if (source) definitions.SourceMetadata = source;
  const metadata = metadataVersionDispatch(raw);
  if (metadata) definitions.Metadata = metadata;
  return definitions;
}

function getCompiled(): Compiled {
  if (!compiled) {
    const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
    ajv.addSchema({ $id: SCHEMA_ID, definitions: loadDefinitions() });
    compiled = { ajv, metadata: ajv.compile(ref('Metadata')), args: new Map() };
  }
  return compiled;
}

function argsValidator(key: string, schema: SchemaObject | undefined = ARGS_SCHEMAS[key]): ValidateFunction | undefined {
  const c = getCompiled();
  let fn = c.args.get(key);
  if (!fn && schema) {
    fn = c.ajv.compile(schema);
    c.args.set(key, fn);
  }
  return fn;
}

function ajvIssues(errors: ErrorObject[] | null | undefined, prefix: string): SchemaIssue[] {
  const seen = new Set<string>();
  const issues: SchemaIssue[] = [];
  for (const e of errors ?? []) {
    if (e.keyword === 'if') continue; // restates the failing then/else branch
    let message = e.message ?? e.keyword;
    const params: JsonObject = e.params;
    if (e.keyword === 'additionalProperties') message = `must NOT have additional property '${String(params.additionalProperty)}'`;
    if (e.keyword === 'enum') message += ` ${JSON.stringify(params.allowedValues)}`;
    if (e.keyword === 'const') message += ` ${JSON.stringify(params.allowedValue)}`;
    const issue = { path: prefix + e.instancePath, message };
    const key = formatIssue(issue);
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Whole metadata

export function metadataIssues(metadata: unknown, pointer = ''): SchemaIssue[] {
  const validate = getCompiled().metadata;
  return validate(metadata) ? [] : ajvIssues(validate.errors, pointer);
}

/** Validate a whole metadata object against Hasura's `Metadata`; readable errors, [] when valid. */
export function validateMetadata(metadata: unknown): string[] {
  return metadataIssues(metadata).map(formatIssue);
}

/**
 * Hand checks Hasura's schema does not do on a metadata object: the boolean expressions and `set`
 * presets of every table permission (operators, session variables, `_exists`; columns unknown).
 */
export function metadataPermissionIssues(metadata: unknown, pointer = ''): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  if (!isRecord(metadata) || !Array.isArray(metadata.sources)) return issues;
  metadata.sources.forEach((source, si) => {
    if (!isRecord(source) || !Array.isArray(source.tables)) return;
    source.tables.forEach((table, ti) => {
      if (!isRecord(table)) return;
      for (const kind of PERMISSION_KINDS) {
        const perms = table[`${kind}_permissions`];
        if (!Array.isArray(perms)) continue;
        perms.forEach((perm, pi) => {
          if (!isRecord(perm)) return;
          const at = `${pointer}/sources/${si}/tables/${ti}/${kind}_permissions/${pi}/permission`;
          issues.push(...permissionObjectIssues(kind, perm.permission, at));
        });
      }
    });
  });
  return issues;
}

export function checkMetadataPermissions(metadata: unknown): string[] {
  return metadataPermissionIssues(metadata).map(formatIssue);
}

function permissionObjectIssues(kind: PermissionKind, permission: unknown, pointer: string): SchemaIssue[] {
  if (!isRecord(permission)) return [];
  const issues: SchemaIssue[] = [];
  for (const key of PERMISSION_BOOL_EXP_KEYS[kind]) {
    if (key in permission) issues.push(...boolExpIssues(permission[key], structuralContext(), `${pointer}/${key}`));
  }
  if (isRecord(permission.set)) {
    for (const [column, value] of Object.entries(permission.set)) {
      const problem = typeof value === 'string' ? sessionVariableProblem(value) : undefined;
      if (problem) issues.push({ path: `${pointer}/set/${column}`, message: problem });
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Metadata API requests

/** Issues of a metadata API request body; paths are JSON pointers into the body. */
export function metadataRequestIssues(body: unknown): SchemaIssue[] {
  return requestIssues(body, '', true);
}

/** Validate a `POST /v1/metadata` body; readable errors, [] when valid. See the file comment. */
export function validateMetadataRequest(body: unknown): string[] {
  return metadataRequestIssues(body).map(formatIssue);
}

const ENVELOPE_KEYS = new Set(['type', 'args', 'version', 'resource_version']);

function requestIssues(body: unknown, pointer: string, topLevel: boolean): SchemaIssue[] {
  if (!isRecord(body)) return [{ path: pointer, message: 'must be an object {type, args, version?, resource_version?}' }];
  const issues: SchemaIssue[] = [];
  for (const key of Object.keys(body)) {
    if (!ENVELOPE_KEYS.has(key)) issues.push({ path: pointer, message: `must NOT have additional property '${key}'` });
  }
  const { type, args, version } = body;
  if (version !== undefined && version !== 1 && version !== 2) {
    issues.push({ path: `${pointer}/version`, message: 'must be 1 or 2' });
  }
  if (body.resource_version !== undefined) {
    const rv = body.resource_version;
    if (!topLevel) {
      // only the outermost request's resource_version is read by the server
    } else if (typeof rv !== 'number' || !Number.isInteger(rv) || rv < 0) {
      issues.push({ path: `${pointer}/resource_version`, message: 'must be a non-negative integer' });
    }
  }
  if (typeof type !== 'string') {
    issues.push({ path: `${pointer}/type`, message: "must be a string (the metadata command, e.g. 'pg_track_table')" });
    return issues;
  }
  if (!KNOWN_METADATA_COMMANDS.includes(type)) {
    issues.push({ path: `${pointer}/type`, message: `unknown metadata command "${type}"` });
    return issues;
  }
  if (version === 2 && !V2_TYPES.has(type)) {
    issues.push({
      path: `${pointer}/version`,
      message: `version 2 is only defined for export_metadata and replace_metadata, not "${type}"`,
    });
  }
  if (!('args' in body)) {
    issues.push({ path: pointer, message: "must have required property 'args'" });
    return issues;
  }
  const argsPointer = `${pointer}/args`;

  if ((BULK_TYPES as readonly string[]).includes(type)) {
    if (!Array.isArray(args)) return [...issues, { path: argsPointer, message: 'must be an array of metadata requests' }];
    args.forEach((sub, i) => issues.push(...requestIssues(sub, `${argsPointer}/${i}`, false)));
    return issues;
  }

  if (type === 'replace_metadata') {
    const shaped = version === 2 || (isRecord(args) && 'metadata' in args);
    if (shaped) {
      const validate = argsValidator('replace_metadata/v2', replaceMetadataV2Args);
      if (!validate) throw new Error('unreachable: replace_metadata schema');
      if (!validate(args)) issues.push(...ajvIssues(validate.errors, argsPointer));
      else issues.push(...metadataPermissionIssues((args as JsonObject).metadata, `${argsPointer}/metadata`));
    } else {
      const found = metadataIssues(args, argsPointer);
      issues.push(...found);
      if (found.length === 0) issues.push(...metadataPermissionIssues(args, argsPointer));
    }
    return issues;
  }

  const validate = argsValidator(type);
  if (validate && !validate(args)) return [...issues, ...ajvIssues(validate.errors, argsPointer)];

  const permMatch = /^pg_create_(select|insert|update|delete)_permission$/.exec(type);
  if (permMatch && isRecord(args)) {
    issues.push(...permissionObjectIssues(permMatch[1] as PermissionKind, args.permission, `${argsPointer}/permission`));
  }
  return issues;
}

// ---------------------------------------------------------------------------------------------
// Boolean expressions (permission filter / check)

const LOGICAL_OPERATORS = new Set(['and', 'or', 'not', 'exists']);
/** hasura/README.md §6 comparison operators (without the `_` / `$` prefix). */
export const COMPARISON_OPERATORS: ReadonlySet<string> = new Set([
  'eq',
  'neq',
  'gt',
  'lt',
  'gte',
  'lte',
  'in',
  'nin',
  'is_null',
  'like',
  'nlike',
  'ilike',
  'nilike',
  'similar',
  'nsimilar',
  'regex',
  'nregex',
  'iregex',
  'niregex',
  'contains',
  'contained_in',
  'has_key',
  'has_keys_any',
  'has_keys_all',
  'ceq',
  'cne',
  'cgt',
  'clt',
  'cgte',
  'clte',
]);

/** `_eq` / `$eq` → `eq`; anything else → undefined. */
function operatorName(key: string): string | undefined {
  return key.startsWith('_') || key.startsWith('$') ? key.slice(1) : undefined;
}

const isComparisonKey = (key: string): boolean => {
  const op = operatorName(key);
  return op !== undefined && COMPARISON_OPERATORS.has(op);
};

/**
 * Does this value read as a column's `{_op: operand}` object rather than a nested boolean
 * expression? Unknown `_x` keys count when their operand is not an object, so that `{_eqq: 1}` is
 * reported as a bad operator (a relationship target's `_col: {...}` still reads as nested).
 */
function isOperatorObject(value: unknown): value is JsonObject {
  if (!isRecord(value)) return false;
  return Object.entries(value).every(([k, v]) => {
    if (isComparisonKey(k)) return true;
    const op = operatorName(k);
    return op !== undefined && !LOGICAL_OPERATORS.has(op) && !isRecord(v);
  });
}

const SESSION_VARIABLE = /^x-hasura-[a-z0-9][\w-]*$/i;
// Strings that were evidently meant as session variables; a typo there silently becomes a literal.
const LOOKS_LIKE_SESSION_VARIABLE = /^\s*(?:x[-_]|(?:x-)?hasura[-_])/i;

export function isSessionVariable(value: string): boolean {
  return SESSION_VARIABLE.test(value);
}

function sessionVariableProblem(value: string): string | undefined {
  if (!LOOKS_LIKE_SESSION_VARIABLE.test(value) || SESSION_VARIABLE.test(value)) return undefined;
  return `"${value}" looks like a session variable but is not a valid X-Hasura-* name`;
}

interface BoolExpContext {
  /** Columns of the current table; undefined = unknown (structural check only). */
  columns: readonly string[] | undefined;
  /** Relationship name → columns of its target table; undefined = unknown. */
  relationships: Readonly<Record<string, readonly string[]>> | undefined;
  /** Columns of the table the permission is defined on (for `["$", col]`). */
  rootColumns: readonly string[] | undefined;
}

const structuralContext = (): BoolExpContext => ({ columns: undefined, relationships: undefined, rootColumns: undefined });

export interface BoolExpOptions {
  columns: string[];
  /** Relationship name → columns of the related table. Deeper relationships are checked structurally. */
  relationships?: Record<string, string[]>;
}

/**
 * Check a permission boolean expression, which Hasura's schema leaves free-form: operators
 * (hasura/README.md §6, `_x` or `$x`), column / relationship names, session-variable spelling
 * (`X-Hasura-...`, case-insensitive) and the `_exists: {_table, _where}` shape. `_exists._where`
 * refers to an unrelated table, so only its structure is checked. Returns readable errors.
 */
export function checkBoolExp(exp: unknown, opts: BoolExpOptions): string[] {
  const ctx: BoolExpContext = { columns: opts.columns, relationships: opts.relationships ?? {}, rootColumns: opts.columns };
  return boolExpIssues(exp, ctx, '').map(formatIssue);
}

function boolExpIssues(exp: unknown, ctx: BoolExpContext, pointer: string): SchemaIssue[] {
  if (!isRecord(exp)) return [{ path: pointer, message: 'a boolean expression must be an object' }];
  const issues: SchemaIssue[] = [];
  for (const [key, value] of Object.entries(exp)) {
    const at = `${pointer}/${key}`;
    const op = operatorName(key);
    if (op !== undefined && LOGICAL_OPERATORS.has(op)) {
      issues.push(...logicalIssues(op, value, ctx, at));
      continue;
    }
    if (ctx.columns?.includes(key)) {
      issues.push(...columnComparisonIssues(value, ctx, at));
      continue;
    }
    const target = ctx.relationships?.[key];
    if (target) {
      issues.push(...boolExpIssues(value, { columns: target, relationships: undefined, rootColumns: ctx.rootColumns }, at));
      continue;
    }
    const operators = isOperatorObject(value);
    if (ctx.columns === undefined && operators) {
      issues.push(...columnComparisonIssues(value, ctx, at));
    } else if (op !== undefined && !isRecord(value)) {
      issues.push({ path: at, message: `unknown operator '${key}' (allowed here: _and, _or, _not, _exists, or a column)` });
    } else if (ctx.columns !== undefined && (operators || ctx.relationships !== undefined)) {
      issues.push({ path: at, message: `unknown column or relationship '${key}'` });
    } else if (isRecord(value)) {
      // relationship whose target is unknown: check its expression structurally
      issues.push(...boolExpIssues(value, structuralContext(), at));
    } else {
      issues.push({ path: at, message: `'${key}' must map to an object of comparison operators or a nested boolean expression` });
    }
  }
  return issues;
}

function logicalIssues(op: string, value: unknown, ctx: BoolExpContext, at: string): SchemaIssue[] {
  switch (op) {
    case 'and':
    case 'or':
      if (!Array.isArray(value)) return [{ path: at, message: 'must be an array of boolean expressions' }];
      return value.flatMap((item, i) => boolExpIssues(item, ctx, `${at}/${i}`));
    case 'not':
      return boolExpIssues(value, ctx, at);
    default: {
      // exists
      if (!isRecord(value)) return [{ path: at, message: 'must be an object {_table, _where}' }];
      const issues: SchemaIssue[] = [];
      const tableKey = ['_table', '$table'].find((k) => k in value);
      const whereKey = ['_where', '$where'].find((k) => k in value);
      for (const key of Object.keys(value)) {
        if (key !== tableKey && key !== whereKey) issues.push({ path: `${at}/${key}`, message: 'unexpected key (only _table and _where)' });
      }
      if (tableKey === undefined) issues.push({ path: at, message: "must have required property '_table'" });
      else {
        const table = value[tableKey];
        const ok =
          typeof table === 'string' ||
          (isRecord(table) && typeof table.name === 'string' && (table.schema === undefined || typeof table.schema === 'string'));
        if (!ok) issues.push({ path: `${at}/${tableKey}`, message: 'must be a table name or {schema, name}' });
      }
      if (whereKey === undefined) issues.push({ path: at, message: "must have required property '_where'" });
      else issues.push(...boolExpIssues(value[whereKey], structuralContext(), `${at}/${whereKey}`));
      return issues;
    }
  }
}

function columnComparisonIssues(value: unknown, ctx: BoolExpContext, at: string): SchemaIssue[] {
  if (!isRecord(value)) return [{ path: at, message: 'a column must map to an object of comparison operators, e.g. {_eq: ...}' }];
  const issues: SchemaIssue[] = [];
  for (const [key, operand] of Object.entries(value)) {
    const opAt = `${at}/${key}`;
    const op = operatorName(key);
    if (op === undefined || !COMPARISON_OPERATORS.has(op)) {
      issues.push({ path: opAt, message: `unknown comparison operator '${key}'` });
      continue;
    }
    issues.push(...operandIssues(op, operand, ctx, opAt));
  }
  return issues;
}

function stringProblems(value: unknown, at: string): SchemaIssue[] {
  if (typeof value === 'string') {
    const problem = sessionVariableProblem(value);
    return problem ? [{ path: at, message: problem }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => stringProblems(v, `${at}/${i}`));
  return [];
}

function operandIssues(op: string, operand: unknown, ctx: BoolExpContext, at: string): SchemaIssue[] {
  if (operand === undefined) return [{ path: at, message: 'missing operand' }];
  switch (op) {
    case 'is_null':
      return typeof operand === 'boolean' ? [] : [{ path: at, message: 'must be a boolean' }];
    case 'in':
    case 'nin':
    case 'has_keys_any':
    case 'has_keys_all':
      if (typeof operand === 'string') {
        // an array-valued session variable, e.g. "X-Hasura-Allowed-Org-Ids" = "{1,2,3}"
        return isSessionVariable(operand) ? [] : [{ path: at, message: 'must be an array or a session variable (X-Hasura-...)' }];
      }
      if (!Array.isArray(operand)) return [{ path: at, message: 'must be an array or a session variable (X-Hasura-...)' }];
      if ((op === 'has_keys_any' || op === 'has_keys_all') && !operand.every((k) => typeof k === 'string')) {
        return [{ path: at, message: 'must be an array of strings' }];
      }
      return stringProblems(operand, at);
    case 'has_key':
      return typeof operand === 'string' ? stringProblems(operand, at) : [{ path: at, message: 'must be a string' }];
    case 'ceq':
    case 'cne':
    case 'cgt':
    case 'clt':
    case 'cgte':
    case 'clte': {
      if (typeof operand === 'string') {
        return ctx.columns && !ctx.columns.includes(operand) ? [{ path: at, message: `unknown column '${operand}'` }] : [];
      }
      if (Array.isArray(operand) && operand.length > 0 && operand.every((p) => typeof p === 'string')) {
        const [first, ...rest] = operand;
        const columns = first === '$' ? ctx.rootColumns : ctx.columns;
        const column = first === '$' ? rest[0] : first;
        if (first === '$' && rest.length !== 1) return [{ path: at, message: 'must be ["$", "root_column"]' }];
        return columns && column !== undefined && !columns.includes(column) ? [{ path: at, message: `unknown column '${column}'` }] : [];
      }
      return [{ path: at, message: 'must be a column name or ["$", "root_column"]' }];
    }
    default:
      return stringProblems(operand, at);
  }
}
