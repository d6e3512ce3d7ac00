// sql/citus/distribute.sql classifies every table of public and pooled exactly
// once, the way ARCHITECTURE.md §11 asks: tables keyed by tenant_id that request roles
// reach are distributed on tenant_id in one colocation group; global lookups
// they reach are reference tables; only owner-only bookkeeping stays on the
// coordinator; schema tenants become distributed schemas. Citus cannot run here,
// so this is the check that the script keeps up with the migrations, and that
// the Hasura metadata asks only for relationships Hasura supports on Citus.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { useTestDb } from '../support/db.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../sql/citus/distribute.sql');
const METADATA_TABLES = path.resolve(import.meta.dirname, '../../hasura/metadata/databases/platform/tables');
const ANCHOR = 'public.tenant_settings';

type Placement = { kind: 'reference' } | { kind: 'distributed'; column: string; colocateWith: string } | { kind: 'local' };

interface TableRow {
  name: string;
  tenant_keyed: boolean;
  reached: boolean;
}

let tables: TableRow[];
let placements: Map<string, Placement[]>;
let script: string;

function parse(sql: string): Map<string, Placement[]> {
  // Only statements count, not the examples in comments.
  const code = sql
    .split('\n')
    .map((line) => (line.includes('--') ? line.slice(0, line.indexOf('--')) : line))
    .join('\n');
  const found = new Map<string, Placement[]>();
  const add = (table: string, p: Placement) => found.set(table, [...(found.get(table) ?? []), p]);
  for (const m of code.matchAll(/create_reference_table\('([^']+)'\)/g)) add(m[1]!, { kind: 'reference' });
  for (const m of code.matchAll(/citus_add_local_table_to_metadata\('([^']+)'\)/g)) add(m[1]!, { kind: 'local' });
  for (const m of code.matchAll(/create_distributed_table\('([^']+)',\s*'([^']+)',\s*colocate_with\s*=>\s*'([^']+)'\)/g)) {
    add(m[1]!, { kind: 'distributed', column: m[2]!, colocateWith: m[3]! });
  }
  return found;
}

const fx = useTestDb();
beforeAll(async () => {
  script = await readFile(SCRIPT, 'utf8');
  placements = parse(script);
  // reached: app or hasura holds any privilege on it (request paths read it on any node).
  tables = (
    await fx.db.pool.query<TableRow>(`
      select format('%I.%I', n.nspname, c.relname) as name,
             n.nspname = 'pooled' or exists (select 1 from pg_attribute a
                                             where a.attrelid = c.oid and a.attname = 'tenant_id' and not a.attisdropped)
               as tenant_keyed,
             exists (select 1 from (values ('app'), ('hasura')) r (role)
                     where has_table_privilege(r.role, c.oid, 'select, insert, update, delete')
                        or has_any_column_privilege(r.role, c.oid, 'select, insert, update')) as reached
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname in ('public', 'pooled') and c.relkind in ('r', 'p') and not c.relispartition
        and not exists (select 1 from pg_depend d
                        where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
      order by 1`)
  ).rows;
});

it('classifies every table exactly once and names no table that does not exist', () => {
  const missing = tables.filter((t) => !placements.has(t.name)).map((t) => t.name);
  const twice = [...placements].filter(([, p]) => p.length > 1).map(([name]) => name);
  const stale = [...placements.keys()].filter((name) => !tables.some((t) => t.name === name));
  expect({ missing, twice, stale }, 'edit sql/citus/distribute.sql').toEqual({ missing: [], twice: [], stale: [] });
});

it('distributes every tenant-keyed table request roles reach on tenant_id, colocated with the anchor', () => {
  const wrong = tables
    .filter((t) => t.tenant_keyed && (t.reached || t.name.startsWith('pooled.')))
    .flatMap((t) => {
      const p = placements.get(t.name)?.[0];
      const expected = t.name === ANCHOR ? 'none' : ANCHOR;
      return p?.kind === 'distributed' && p.column === 'tenant_id' && p.colocateWith === expected
        ? []
        : [`${t.name}: ${JSON.stringify(p)}`];
    });
  expect(wrong).toEqual([]);
  expect(placements.get(ANCHOR)).toEqual([{ kind: 'distributed', column: 'tenant_id', colocateWith: 'none' }]);
});

it('makes every global lookup request roles reach a reference table', () => {
  const globals = tables.filter((t) => !t.tenant_keyed && t.reached);
  expect(globals.map((t) => t.name)).toEqual(expect.arrayContaining(['public.identities', 'public.plans', 'public.tenants']));
  expect(globals.filter((t) => placements.get(t.name)?.[0]?.kind !== 'reference').map((t) => t.name)).toEqual([]);
});

it('keeps on the coordinator only tables no request role can reach', () => {
  const local = [...placements].filter(([, p]) => p[0]?.kind === 'local').map(([name]) => name);
  expect(tables.filter((t) => local.includes(t.name) && t.reached).map((t) => t.name)).toEqual([]);
  // Distributing a global table on anything would split rows every tenant shares.
  const distributedGlobals = tables.filter((t) => !t.tenant_keyed && placements.get(t.name)?.[0]?.kind === 'distributed');
  expect(distributedGlobals.map((t) => t.name)).toEqual([]);
});

it('distributes the schema of every schema-tier tenant and forwards SET LOCAL to the workers', () => {
  expect(script).toMatch(/where t\.isolation = 'schema'[\s\S]*citus_schema_distribute\(quote_ident\(v_schema\)::regnamespace\)/);
  expect(script).toMatch(/citus\.propagate_set_commands = %L', current_database\(\), 'local'/);
  expect(script).toMatch(/citus\.enable_schema_based_sharding = %L', current_database\(\), 'on'/);
});

// Hasura on Citus joins only what Citus joins: from a distributed table, object
// relationships to reference or distributed tables and array relationships to
// distributed ones; from reference and local tables, nothing into distributed ones.
const qualifiedTable = z.object({ schema: z.string().default('public'), name: z.string() });
const relationship = z.object({
  name: z.string(),
  using: z.object({
    foreign_key_constraint_on: z.union([z.string(), z.array(z.string()), z.object({ table: qualifiedTable }).passthrough()]).optional(),
    manual_configuration: z.object({ remote_table: qualifiedTable }).passthrough().optional(),
  }),
});
const tableFile = z
  .object({
    table: qualifiedTable,
    object_relationships: z.array(relationship).default([]),
    array_relationships: z.array(relationship).default([]),
  })
  .passthrough();

it('asks Hasura only for relationships it supports on Citus', async () => {
  const kindOf = (table: string) => placements.get(table)?.[0]?.kind ?? 'unclassified';
  const fkTarget = async (table: string, columns: string[]) =>
    (
      await fx.db.pool.query<{ target: string }>(
        `select format('%I.%I', n.nspname, r.relname) as target
         from pg_constraint c join pg_class r on r.oid = c.confrelid join pg_namespace n on n.oid = r.relnamespace
         where c.conrelid = $1::regclass and c.contype = 'f'
           and (select array_agg(a.attname::text order by a.attname) from pg_attribute a
                where a.attrelid = c.conrelid and a.attnum = any (c.conkey)) = (select array_agg(x order by x) from unnest($2::text[]) x)`,
        [table, columns],
      )
    ).rows[0]?.target;
  const unsupported: string[] = [];
  let checked = 0;
  for (const file of (await readdir(METADATA_TABLES)).filter((f) => f.endsWith('.yaml') && f !== 'tables.yaml').sort()) {
    const meta = tableFile.parse(parseYaml(await readFile(path.join(METADATA_TABLES, file), 'utf8')));
    const from = `${meta.table.schema}.${meta.table.name}`;
    for (const [type, rels] of [
      ['object', meta.object_relationships],
      ['array', meta.array_relationships],
    ] as const) {
      for (const rel of rels) {
        const fk = rel.using.foreign_key_constraint_on;
        const to =
          rel.using.manual_configuration !== undefined
            ? `${rel.using.manual_configuration.remote_table.schema}.${rel.using.manual_configuration.remote_table.name}`
            : typeof fk === 'object' && !Array.isArray(fk)
              ? `${fk.table.schema}.${fk.table.name}`
              : await fkTarget(from, typeof fk === 'string' ? [fk] : (fk ?? []));
        checked += 1;
        const [fromKind, toKind] = [kindOf(from), to === undefined ? 'unresolved' : kindOf(to)];
        const ok =
          fromKind === 'distributed'
            ? toKind === 'distributed' || (toKind === 'reference' && type === 'object')
            : toKind === 'reference' || toKind === 'local';
        if (!ok) unsupported.push(`${type} relationship ${from}.${rel.name} (${fromKind}) -> ${to} (${toKind})`);
      }
    }
  }
  expect(checked).toBeGreaterThan(0);
  expect(unsupported).toEqual([]);
});
