/**
 * Build the JSON metadata (what `export_metadata` returns / `hasura metadata apply` sends) from a
 * Hasura CLI config-v3 metadata directory (hasura/README.md §7), the way the CLI does:
 *  - every `*.yaml` file is parsed with `yaml`; any string `'!include <path>'` (also the unquoted
 *    YAML tag form `!include <path>`) is replaced by the parsed content of that file, resolved
 *    relative to the including file, recursively (include cycles are an error);
 *  - `actions.graphql` supplies the actions (fields of `type Mutation` / `type Query`, also
 *    `extend type ...`: `arguments`, `output_type`, `type: mutation|query`) and the custom types
 *    with their fields (input/object/scalar/enum); `actions.yaml` adds per action `handler`, `kind`,
 *    `headers`, `forward_client_headers`, `timeout`, request/response transforms, `permissions` and
 *    `comment`, and per custom type `description` and `relationships`. As in the CLI's Build, an
 *    action or custom type named in `actions.yaml` but missing from `actions.graphql` is an error;
 *  - files map to top-level keys (`allow_list.yaml` → `allowlist`, `databases/databases.yaml` →
 *    `sources`, ...); missing optional files are skipped and empty lists/objects are omitted, as in
 *    the exported JSON (`version` and `sources` are always present).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import {
  Kind,
  parse,
  print,
  type ConstDirectiveNode,
  type DefinitionNode,
  type FieldDefinitionNode,
  type InputValueDefinitionNode,
  type StringValueNode,
} from 'graphql';
import { parse as parseYaml, type ScalarTag } from 'yaml';

type JsonObject = Record<string, unknown>;
const isRecord = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

const INCLUDE = '!include';

/** The file named by `!include <file>` (surrounding whitespace dropped, on one line), or undefined. */
function includeTarget(value: string): string | undefined {
  if (!value.startsWith(INCLUDE) || !/^\s/.test(value.slice(INCLUDE.length))) return undefined;
  const file = value.slice(INCLUDE.length).trim();
  return file !== '' && !/[\n\r\u2028\u2029]/.test(file) ? file : undefined;
}

// `!include x.yaml` written as a YAML tag rather than a quoted string: keep it as the same marker string.
const includeTag: ScalarTag = {
  tag: '!include',
  resolve: (value: string) => `!include ${value}`,
};

/** Top-level metadata key per file (relative to the metadata directory). */
const FILE_KEYS: readonly (readonly [file: string, key: string])[] = [
  ['remote_schemas.yaml', 'remote_schemas'],
  ['query_collections.yaml', 'query_collections'],
  ['allow_list.yaml', 'allowlist'],
  ['cron_triggers.yaml', 'cron_triggers'],
  ['rest_endpoints.yaml', 'rest_endpoints'],
  ['inherited_roles.yaml', 'inherited_roles'],
  ['network.yaml', 'network'],
  ['api_limits.yaml', 'api_limits'],
  ['graphql_schema_introspection.yaml', 'graphql_schema_introspection'],
  ['metrics_config.yaml', 'metrics_config'],
  ['opentelemetry.yaml', 'opentelemetry'],
  ['backend_configs.yaml', 'backend_configs'],
];

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isRecord(err) && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

async function loadYamlFile(path: string, stack: readonly string[]): Promise<unknown> {
  const absolute = resolve(path);
  if (stack.includes(absolute)) throw new Error(`!include cycle: ${[...stack, absolute].join(' -> ')}`);
  const text = await readFile(absolute, 'utf8');
  let parsed: unknown;
  try {
    parsed = parseYaml(text, { customTags: [includeTag] });
  } catch (err) {
    throw new Error(`${absolute}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return resolveIncludes(parsed ?? null, dirname(absolute), [...stack, absolute]);
}

async function resolveIncludes(value: unknown, baseDir: string, stack: readonly string[]): Promise<unknown> {
  if (typeof value === 'string') {
    const file = includeTarget(value);
    return file ? loadYamlFile(join(baseDir, file), stack) : value;
  }
  if (Array.isArray(value)) return Promise.all(value.map((v) => resolveIncludes(v, baseDir, stack)));
  if (isRecord(value)) {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = await resolveIncludes(v, baseDir, stack);
    return out;
  }
  return value;
}

async function loadOptionalYaml(path: string): Promise<unknown> {
  return (await readOptional(path)) === undefined ? undefined : loadYamlFile(path, []);
}

const isEmpty = (v: unknown): boolean =>
  v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0);

// export_metadata leaves out empty per-source lists (functions, native_queries, ...) and per-table
// lists (permissions, relationships, ...); `tables` itself is required and stays.
function omitEmptySourceLists(source: unknown): void {
  if (!isRecord(source)) return;
  for (const [key, value] of Object.entries(source)) {
    if (key !== 'tables' && Array.isArray(value) && value.length === 0) delete source[key];
  }
  if (!Array.isArray(source.tables)) return;
  for (const table of source.tables) {
    if (!isRecord(table)) continue;
    for (const [key, value] of Object.entries(table)) {
      if (Array.isArray(value) && value.length === 0) delete table[key];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// actions.graphql + actions.yaml

interface SdlTypes {
  enums: JsonObject[];
  input_objects: JsonObject[];
  objects: JsonObject[];
  scalars: JsonObject[];
}

const description = (node: { description?: StringValueNode | undefined }): JsonObject =>
  node.description ? { description: node.description.value } : {};

const isDeprecated = (directives: readonly ConstDirectiveNode[] | undefined): boolean =>
  (directives ?? []).some((d) => d.name.value === 'deprecated');

function inputValue(node: InputValueDefinitionNode): JsonObject {
  return { name: node.name.value, type: print(node.type), ...description(node) };
}

function actionFromField(field: FieldDefinitionNode, type: 'mutation' | 'query'): JsonObject {
  return {
    name: field.name.value,
    definition: {
      type,
      arguments: (field.arguments ?? []).map(inputValue),
      output_type: print(field.type),
    },
  };
}

function parseActionsSdl(sdl: string, file: string): { actions: JsonObject[]; types: SdlTypes } {
  const actions: JsonObject[] = [];
  const types: SdlTypes = { enums: [], input_objects: [], objects: [], scalars: [] };
  if (sdl.trim() === '') return { actions, types };
  let definitions: readonly DefinitionNode[];
  try {
    definitions = parse(sdl).definitions;
  } catch (err) {
    throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const def of definitions) {
    switch (def.kind) {
      case Kind.OBJECT_TYPE_DEFINITION:
      case Kind.OBJECT_TYPE_EXTENSION: {
        const root = def.name.value === 'Mutation' ? 'mutation' : def.name.value === 'Query' ? 'query' : undefined;
        if (root) {
          for (const field of def.fields ?? []) actions.push(actionFromField(field, root));
        } else {
          types.objects.push({
            name: def.name.value,
            ...(def.kind === Kind.OBJECT_TYPE_DEFINITION ? description(def) : {}),
            fields: (def.fields ?? []).map((f) => ({ name: f.name.value, type: print(f.type), ...description(f) })),
          });
        }
        break;
      }
      case Kind.INPUT_OBJECT_TYPE_DEFINITION:
        types.input_objects.push({ name: def.name.value, ...description(def), fields: (def.fields ?? []).map(inputValue) });
        break;
      case Kind.SCALAR_TYPE_DEFINITION:
        types.scalars.push({ name: def.name.value, ...description(def) });
        break;
      case Kind.ENUM_TYPE_DEFINITION:
        types.enums.push({
          name: def.name.value,
          ...description(def),
          values: (def.values ?? []).map((v) => ({
            value: v.name.value,
            ...description(v),
            ...(isDeprecated(v.directives) ? { is_deprecated: true } : {}),
          })),
        });
        break;
      default:
        throw new Error(`${file}: unsupported definition ${def.kind} (actions.graphql holds actions and custom types only)`);
    }
  }
  return { actions, types };
}

// Action definition keys that come from actions.yaml (the signature comes from actions.graphql).
const YAML_DEFINITION_KEYS = ['kind', 'handler', 'forward_client_headers', 'headers', 'timeout', 'request_transform', 'response_transform'];

function mergeActions(dir: string, sdl: { actions: JsonObject[]; types: SdlTypes }, yamlDoc: unknown): JsonObject {
  const yamlActions = isRecord(yamlDoc) && Array.isArray(yamlDoc.actions) ? yamlDoc.actions.filter(isRecord) : [];
  for (const yamlAction of yamlActions) {
    const name = yamlAction.name;
    const target = sdl.actions.find((a) => a.name === name);
    if (!target) throw new Error(`${dir}: action ${String(name)} is not present in actions.graphql`);
    const definition = isRecord(target.definition) ? target.definition : {};
    const yamlDefinition = isRecord(yamlAction.definition) ? yamlAction.definition : {};
    for (const key of YAML_DEFINITION_KEYS) {
      if (yamlDefinition[key] !== undefined && yamlDefinition[key] !== null) definition[key] = yamlDefinition[key];
    }
    // Hasura's own defaults are implied when absent; keep the JSON free of false/0 placeholders.
    if (definition.forward_client_headers === false) delete definition.forward_client_headers;
    target.definition = definition;
    if (Array.isArray(yamlAction.permissions) && yamlAction.permissions.length > 0) target.permissions = yamlAction.permissions;
    if (typeof yamlAction.comment === 'string') target.comment = yamlAction.comment;
  }

  const yamlTypes = isRecord(yamlDoc) && isRecord(yamlDoc.custom_types) ? yamlDoc.custom_types : {};
  for (const group of ['enums', 'input_objects', 'objects', 'scalars'] as const) {
    const entries = Array.isArray(yamlTypes[group]) ? (yamlTypes[group] as unknown[]).filter(isRecord) : [];
    for (const entry of entries) {
      const target = sdl.types[group].find((t) => t.name === entry.name);
      if (!target) throw new Error(`${dir}: custom type ${String(entry.name)} is not present in actions.graphql`);
      if (typeof entry.description === 'string') target.description = entry.description;
      if (Array.isArray(entry.relationships) && entry.relationships.length > 0) target.relationships = entry.relationships;
    }
  }

  const out: JsonObject = {};
  if (sdl.actions.length > 0) out.actions = sdl.actions;
  const { enums, input_objects, objects, scalars } = sdl.types;
  if (enums.length + input_objects.length + objects.length + scalars.length > 0) out.custom_types = sdl.types;
  return out;
}

// ---------------------------------------------------------------------------------------------

/** Read a CLI v3 metadata directory (e.g. `hasura/metadata`) into JSON metadata. */
export async function loadMetadataDir(dir: string): Promise<unknown> {
  const root = resolve(dir);
  const versionDoc = await loadOptionalYaml(join(root, 'version.yaml'));
  const version = isRecord(versionDoc) && versionDoc.version !== undefined ? versionDoc.version : 3;

  const sources = (await loadOptionalYaml(join(root, 'databases', 'databases.yaml'))) ?? [];
  if (Array.isArray(sources)) sources.forEach(omitEmptySourceLists);
  const metadata: JsonObject = { version, sources };

  const sdlText = await readOptional(join(root, 'actions.graphql'));
  const actionsYaml = await loadOptionalYaml(join(root, 'actions.yaml'));
  if (sdlText !== undefined || actionsYaml !== undefined) {
    const sdl = parseActionsSdl(sdlText ?? '', join(root, 'actions.graphql'));
    Object.assign(metadata, mergeActions(root, sdl, actionsYaml));
  }

  for (const [file, key] of FILE_KEYS) {
    const value = await loadOptionalYaml(join(root, file));
    if (!isEmpty(value)) {
      // the introspection file holds {disabled_for_roles: [...]}; empty means "nothing configured"
      if (key === 'graphql_schema_introspection' && isRecord(value) && isEmpty(value.disabled_for_roles)) continue;
      metadata[key] = value;
    }
  }
  return metadata;
}
