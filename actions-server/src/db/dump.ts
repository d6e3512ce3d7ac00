// sql/schema.sql: a schema-only dump of a freshly migrated database, built from
// the catalog (pg_dump does not ship with embedded PostgreSQL), so a review can
// read the whole database in one file and a migration without a refreshed dump
// fails the tests. Normalised for stability: names ordered, owners and oids left
// out, every expression deparsed with only pg_catalog on the search_path (so
// every other name is schema-qualified the same way on every run).
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { trimLineEnds } from '../core/text.ts';
import { createPool } from './database.ts';
import { migrateUp } from './migrate.ts';
import type { Client, Pool } from './tx.ts';

export const SCHEMA_DUMP_FILE = path.resolve(import.meta.dirname, '../../../sql/schema.sql');

const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);

/** The schemas a migrated database owns: all but the system ones, tenant schemas and the job queue's. */
const SCHEMAS_SQL = `
  select n.oid, n.nspname from pg_namespace n
  where n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname not like 'pg\\_%'
    and n.nspname not like 'tenant\\_%'
    and n.nspname <> 'graphile_worker' -- the job queue's own schema, migrated by graphile-worker
    and not exists (select 1 from pg_depend d
                    where d.classid = 'pg_namespace'::regclass and d.objid = n.oid and d.deptype = 'e')
  order by n.nspname`;

// Objects created by extensions belong to the extension, not to us.
const NOT_EXTENSION = (classTable: string, alias: string) => `
  not exists (select 1 from pg_depend d
              where d.classid = '${classTable}'::regclass and d.objid = ${alias}.oid and d.deptype = 'e')`;

async function rows<T extends pg.QueryResultRow>(client: Client, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await client.query<T>(sql, params)).rows;
}

/** A query whose one column, `line`, is a statement of the dump. */
async function lines(client: Client, sql: string, params: unknown[] = []): Promise<string[]> {
  return (await rows<{ line: string }>(client, sql, params)).map((r) => r.line);
}

type AclEntry = {
  object: string;
  kind: string;
  grantee: string;
  privileges: string[];
  columns: string[] | null;
};

function grantLines(entries: AclEntry[]): string[] {
  return entries.map((e) => {
    const cols = e.columns ? ` (${e.columns.join(', ')})` : '';
    return `grant ${e.privileges.join(', ')}${cols} on ${e.kind} ${e.object} to ${e.grantee};`;
  });
}

function groupBy<T, K>(items: T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

/** Orders views so each comes after the views it reads (names break ties). */
function topoSort<T extends { name: string; deps: string[] }>(items: T[]): T[] {
  const byName = new Map(items.map((i) => [i.name, i]));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (item: T, trail: Set<string>) => {
    if (done.has(item.name) || trail.has(item.name)) return;
    trail.add(item.name);
    for (const dep of [...item.deps].sort()) {
      const d = byName.get(dep);
      if (d) visit(d, trail);
    }
    done.add(item.name);
    out.push(item);
  };
  for (const item of [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) visit(item, new Set());
  return out;
}

/** What every section reads: the transaction's client and the dumped schemas. */
interface Catalog {
  client: Client;
  nsOids: number[];
}

/** Kinds of object this dump does not render: refuse rather than leave them out silently. */
async function assertSupported(cat: Catalog): Promise<void> {
  const { client, nsOids } = cat;
  const unsupported = await rows<{ what: string }>(
    client,
    `select format('rule %I on %I.%I', r.rulename, n.nspname, c.relname) as what
     from pg_rewrite r join pg_class c on c.oid = r.ev_class join pg_namespace n on n.oid = c.relnamespace
     where c.relnamespace = any ($1::oid[]) and r.rulename <> '_RETURN'
     union all
     select format('statistics %I.%I', n.nspname, s.stxname) from pg_statistic_ext s
     join pg_namespace n on n.oid = s.stxnamespace where s.stxnamespace = any ($1::oid[])
     union all
     select format('operator %I.%s', n.nspname, o.oprname) from pg_operator o
     join pg_namespace n on n.oid = o.oprnamespace where o.oprnamespace = any ($1::oid[]) and ${NOT_EXTENSION('pg_operator', 'o')}
     union all
     select format('default privileges of role %s', d.defaclrole::regrole) from pg_default_acl d
     union all
     select format('event trigger %I', e.evtname) from pg_event_trigger e where ${NOT_EXTENSION('pg_event_trigger', 'e')}`,
    [nsOids],
  );
  if (unsupported.length) {
    throw new Error(`dump: not rendered by actions-server/src/db/dump.ts: ${unsupported.map((u) => u.what).join(', ')}`);
  }
}

/** The file's preamble: what it is and which migrations it reflects. */
async function header(client: Client): Promise<string[]> {
  const hasMigrations = (await rows<{ ok: boolean }>(client, `select to_regclass('public.schema_migrations') is not null as ok`))[0]?.ok;
  const migrations = hasMigrations
    ? await rows<{ name: string }>(
        client,
        `select version::text || '_' || coalesce(name, '') as name from public.schema_migrations order by version`,
      )
    : [];
  return [
    '-- Schema of a freshly migrated database, generated from the catalog by',
    '-- `npm run db:dump` (actions-server/src/db/dump.ts). Do not edit: change a',
    '-- migration in hasura/migrations/default and regenerate. Owners are left out;',
    '-- tenant schemas are built from sql/tenant/.',
    ...migrations.map((m) => `-- migration ${m.name}`),
    '',
    'set check_function_bodies = false;',
  ];
}

async function extensionLines(cat: Catalog): Promise<string[]> {
  const { client } = cat;
  return lines(
    client,
    `select format('create extension if not exists %I with schema %I;', e.extname, n.nspname) as line
       from pg_extension e join pg_namespace n on n.oid = e.extnamespace
       where e.extname <> 'plpgsql' order by e.extname`,
  );
}

async function schemaLines(cat: Catalog): Promise<string[]> {
  const { client } = cat;
  return (await rows<{ nspname: string }>(client, `select nspname from (${SCHEMAS_SQL}) s where nspname <> 'public'`)).map(
    (s) => `create schema ${ident(s.nspname)};`,
  );
}

async function typeLines(cat: Catalog): Promise<string[]> {
  const { client, nsOids } = cat;
  const types = await rows<{ name: string; typtype: string; def: string | null }>(
    client,
    `select format('%I.%I', n.nspname, t.typname) as name, t.typtype,
            case t.typtype
              when 'e' then (select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
                             from pg_enum e where e.enumtypid = t.oid)
              when 'd' then format_type(t.typbasetype, t.typtypmod)
                            || coalesce(' collate ' || (select format('%I.%I', cn.nspname, co.collname)
                                                        from pg_collation co join pg_namespace cn on cn.oid = co.collnamespace
                                                        where co.oid = t.typcollation and t.typcollation <> 100), '')
                            || coalesce(' default ' || t.typdefault, '')
                            || case when t.typnotnull then ' not null' else '' end
                            || coalesce((select string_agg(format(' constraint %I %s', c.conname, pg_get_constraintdef(c.oid)), '' order by c.conname)
                                         from pg_constraint c where c.contypid = t.oid), '')
              when 'c' then (select string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' order by a.attnum)
                             from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped)
              when 'r' then (select format('subtype = %s', format_type(r.rngsubtype, null)) from pg_range r where r.rngtypid = t.oid)
            end as def
     from pg_type t join pg_namespace n on n.oid = t.typnamespace
     where t.typnamespace = any ($1::oid[])
       and (t.typtype in ('e', 'd', 'r') or (t.typtype = 'c' and (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c'))
       and ${NOT_EXTENSION('pg_type', 't')}
     order by n.nspname, t.typname`,
    [nsOids],
  );
  return types.map((t) => {
    switch (t.typtype) {
      case 'e':
        return `create type ${t.name} as enum (${t.def ?? ''});`;
      case 'd':
        return `create domain ${t.name} as ${t.def ?? ''};`;
      case 'c':
        return `create type ${t.name} as (${t.def ?? ''});`;
      case 'r':
        return `create type ${t.name} as range (${t.def ?? ''});`;
      default:
        throw new Error(`dump: type ${t.name} of kind ${t.typtype} is not supported`);
    }
  });
}

/**
 * Functions: most go before the tables (check constraints and defaults call
 * them); those taking or returning a table's row type go after the tables.
 */
async function functionRenderer(cat: Catalog): Promise<(overRowtype: boolean) => string[]> {
  const { client, nsOids } = cat;
  const functions = await rows<{ signature: string; prokind: string; def: string | null; over_rowtype: boolean }>(
    client,
    `select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as signature,
            p.prokind,
            case when p.prokind in ('f', 'p') then pg_get_functiondef(p.oid) end as def,
            exists (select 1 from pg_depend d
                    join pg_type t on t.oid = d.refobjid
                    left join pg_type elem on elem.oid = t.typelem and t.typcategory = 'A'
                    join pg_class c on c.oid in (t.typrelid, elem.typrelid) and c.relkind in ('r', 'p', 'v', 'm')
                    where d.classid = 'pg_proc'::regclass and d.objid = p.oid
                      and d.refclassid = 'pg_type'::regclass) as over_rowtype
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where p.pronamespace = any ($1::oid[]) and ${NOT_EXTENSION('pg_proc', 'p')}
     order by n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) collate "C"`,
    [nsOids],
  );
  return (overRowtype: boolean) =>
    functions
      .filter((f) => f.over_rowtype === overRowtype)
      .flatMap((f) => {
        if (f.def === null) throw new Error(`dump: ${f.prokind === 'a' ? 'aggregate' : 'routine'} ${f.signature} is not supported`);
        return [f.def.trimEnd() + ';', ''];
      });
}

/** Sequences not created for identity columns. */
async function sequenceLines(cat: Catalog): Promise<string[]> {
  const { client, nsOids } = cat;
  return lines(
    client,
    `select format('create sequence %I.%I as %s increment by %s minvalue %s maxvalue %s start with %s cache %s%s;',
                   n.nspname, c.relname, format_type(s.seqtypid, null), s.seqincrement, s.seqmin, s.seqmax,
                   s.seqstart, s.seqcache, case when s.seqcycle then ' cycle' else '' end) as line
     from pg_sequence s join pg_class c on c.oid = s.seqrelid join pg_namespace n on n.oid = c.relnamespace
     where c.relnamespace = any ($1::oid[]) and ${NOT_EXTENSION('pg_class', 'c')}
       and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'i')
     order by n.nspname, c.relname`,
    [nsOids],
  );
}

type TableRow = {
  oid: number;
  ident: string;
  relkind: string;
  rls: boolean;
  force: boolean;
  options: string | null;
  partkey: string | null;
  partof: string | null;
  bound: string | null;
};

async function loadTables(cat: Catalog): Promise<TableRow[]> {
  const { client, nsOids } = cat;
  return rows<TableRow>(
    client,
    `select c.oid, format('%I.%I', n.nspname, c.relname) as ident, c.relkind,
            c.relrowsecurity as rls, c.relforcerowsecurity as force,
            array_to_string(c.reloptions, ', ') as options,
            case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partkey,
            (select format('%I.%I', pn.nspname, pc.relname) from pg_inherits i
               join pg_class pc on pc.oid = i.inhparent join pg_namespace pn on pn.oid = pc.relnamespace
             where i.inhrelid = c.oid and c.relispartition) as partof,
            case when c.relispartition then pg_get_expr(c.relpartbound, c.oid) end as bound
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relnamespace = any ($1::oid[]) and c.relkind in ('r', 'p') and ${NOT_EXTENSION('pg_class', 'c')}
     order by n.nspname, c.relname`,
    [nsOids],
  );
}

/** Tables: columns and every constraint but foreign keys. */
async function tableLines(cat: Catalog, tables: TableRow[]): Promise<string[]> {
  const { client, nsOids } = cat;
  const columns = await rows<{ relid: number; line: string }>(
    client,
    `select a.attrelid as relid,
            format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod))
            || case when a.attcollation <> t.typcollation
                    then (select format(' collate %I.%I', cn.nspname, co.collname) from pg_collation co
                          join pg_namespace cn on cn.oid = co.collnamespace where co.oid = a.attcollation) else '' end
            || case a.attidentity when 'a' then ' generated always as identity'
                                  when 'd' then ' generated by default as identity' else '' end
            || case when a.attgenerated = 's' then format(' generated always as (%s) stored', pg_get_expr(d.adbin, d.adrelid))
                    when d.adbin is not null then ' default ' || pg_get_expr(d.adbin, d.adrelid) else '' end
            || case when a.attnotnull then ' not null' else '' end as line
     from pg_attribute a
     join pg_class c on c.oid = a.attrelid
     join pg_type t on t.oid = a.atttypid
     left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
     where c.relnamespace = any ($1::oid[]) and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
       and not (c.relispartition and exists (select 1 from pg_inherits i where i.inhrelid = c.oid))
     order by a.attrelid, a.attnum`,
    [nsOids],
  );
  const constraints = await rows<{ relid: number; contype: string; line: string }>(
    client,
    `select c.conrelid as relid, c.contype, format('constraint %I %s', c.conname, pg_get_constraintdef(c.oid)) as line
     from pg_constraint c join pg_class r on r.oid = c.conrelid
     where r.relnamespace = any ($1::oid[]) and c.contype in ('p', 'u', 'c', 'x') and c.conislocal
     order by c.conrelid, array_position(array['p', 'u', 'x', 'c']::"char"[], c.contype), c.conname`,
    [nsOids],
  );
  const colsOf = groupBy(columns, (c) => c.relid);
  const consOf = groupBy(constraints, (c) => c.relid);
  return tables.flatMap((t) => {
    const body = [...(colsOf.get(t.oid) ?? []), ...(consOf.get(t.oid) ?? [])].map((l) => `  ${l.line}`);
    const head = t.partof
      ? `create table ${t.ident} partition of ${t.partof} ${t.bound ?? ''}`
      : `create table ${t.ident} (\n${body.join(',\n')}\n)`;
    const tail = `${t.partkey ? ` partition by ${t.partkey}` : ''}${t.options ? ` with (${t.options})` : ''};`;
    return [head + tail, ''];
  });
}

/** Foreign keys, after every table exists. */
async function foreignKeyLines(cat: Catalog): Promise<string[]> {
  const { client, nsOids } = cat;
  return lines(
    client,
    `select format('alter table only %I.%I add constraint %I %s;', n.nspname, r.relname, c.conname, pg_get_constraintdef(c.oid)) as line
       from pg_constraint c join pg_class r on r.oid = c.conrelid join pg_namespace n on n.oid = r.relnamespace
       where r.relnamespace = any ($1::oid[]) and c.contype = 'f' and c.conislocal
       order by n.nspname, r.relname, c.conname`,
    [nsOids],
  );
}

/** Indexes not backing a constraint. */
async function indexLines(cat: Catalog): Promise<string[]> {
  const { client, nsOids } = cat;
  return lines(
    client,
    `select pg_get_indexdef(i.indexrelid) || ';' as line
       from pg_index i join pg_class ic on ic.oid = i.indexrelid join pg_class t on t.oid = i.indrelid
       join pg_namespace n on n.oid = t.relnamespace
       where t.relnamespace = any ($1::oid[]) and t.relkind in ('r', 'p', 'm')
         and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid and c.contype in ('p', 'u', 'x'))
         and ${NOT_EXTENSION('pg_class', 't')}
       order by n.nspname, t.relname, ic.relname`,
    [nsOids],
  );
}

/** Views, each after the views it reads. */
async function viewLines(cat: Catalog): Promise<string[]> {
  const { client, nsOids } = cat;
  const views = await rows<{ name: string; relkind: string; options: string | null; def: string; deps: string[] }>(
    client,
    `select format('%I.%I', n.nspname, c.relname) as name, c.relkind,
            array_to_string(c.reloptions, ', ') as options, pg_get_viewdef(c.oid, true) as def,
            coalesce((select array_agg(distinct format('%I.%I', dn.nspname, dc.relname))
                      from pg_rewrite rw join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = rw.oid
                      join pg_class dc on dc.oid = d.refobjid and dc.oid <> c.oid and dc.relkind in ('v', 'm')
                      join pg_namespace dn on dn.oid = dc.relnamespace
                      where rw.ev_class = c.oid), '{}') as deps
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relnamespace = any ($1::oid[]) and c.relkind in ('v', 'm') and ${NOT_EXTENSION('pg_class', 'c')}`,
    [nsOids],
  );
  return topoSort(views).flatMap((v) => [
    `create ${v.relkind === 'm' ? 'materialized ' : ''}view ${v.name}${v.options ? ` with (${v.options})` : ''} as\n` +
      `${v.def.trimEnd().replace(/;$/, '')}${v.relkind === 'm' ? '\nwith no data' : ''};`,
    '',
  ]);
}

/** Row-level security and policies. */
async function rlsLines(cat: Catalog, tables: TableRow[]): Promise<string[]> {
  const { client, nsOids } = cat;
  const rls = tables.flatMap((t) => [
    ...(t.rls ? [`alter table ${t.ident} enable row level security;`] : []),
    ...(t.force ? [`alter table ${t.ident} force row level security;`] : []),
  ]);
  const policies = await lines(
    client,
    `select format('create policy %I on %I.%I as %s for %s to %s%s%s;', p.policyname, p.schemaname, p.tablename,
                   lower(p.permissive), lower(p.cmd),
                   (select string_agg(case when r = 'public' then 'public' else quote_ident(r) end, ', ' order by r)
                    from unnest(p.roles) r),
                   coalesce(E'\\n  using (' || p.qual || ')', ''),
                   coalesce(E'\\n  with check (' || p.with_check || ')', '')) as line
     from pg_policies p join pg_namespace n on n.nspname = p.schemaname
     where n.oid = any ($1::oid[])
     order by p.schemaname, p.tablename, p.policyname`,
    [nsOids],
  );
  return [...rls, ...policies];
}

async function triggerLines(cat: Catalog): Promise<string[]> {
  const { client, nsOids } = cat;
  return lines(
    client,
    `select pg_get_triggerdef(tg.oid) || ';' as line
       from pg_trigger tg join pg_class c on c.oid = tg.tgrelid join pg_namespace n on n.oid = c.relnamespace
       where c.relnamespace = any ($1::oid[]) and not tg.tgisinternal
       order by n.nspname, c.relname, tg.tgname`,
    [nsOids],
  );
}

async function commentLines(cat: Catalog): Promise<string[]> {
  const { client, nsOids } = cat;
  return lines(
    client,
    `select line from (
         select 1 as k, n.nspname as a, '' as b, 0 as c,
                format('comment on schema %I is %L;', n.nspname, d.description) as line
         from pg_description d join pg_namespace n on d.classoid = 'pg_namespace'::regclass and d.objoid = n.oid
         where n.oid = any ($1::oid[])
         union all
         select 2, n.nspname, c.relname, d.objsubid,
                case when d.objsubid = 0
                     then format('comment on %s %I.%I is %L;',
                                 case c.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                                when 'S' then 'sequence' else 'table' end,
                                 n.nspname, c.relname, d.description)
                     else format('comment on column %I.%I.%I is %L;', n.nspname, c.relname,
                                 (select attname from pg_attribute where attrelid = c.oid and attnum = d.objsubid), d.description)
                end
         from pg_description d join pg_class c on d.classoid = 'pg_class'::regclass and d.objoid = c.oid
         join pg_namespace n on n.oid = c.relnamespace
         where n.oid = any ($1::oid[]) and c.relkind in ('r', 'p', 'v', 'm', 'S')
         union all
         select 3, n.nspname, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', 0,
                format('comment on %s %I.%I(%s) is %L;', case p.prokind when 'p' then 'procedure' else 'function' end,
                       n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), d.description)
         from pg_description d join pg_proc p on d.classoid = 'pg_proc'::regclass and d.objoid = p.oid
         join pg_namespace n on n.oid = p.pronamespace
         where n.oid = any ($1::oid[])
         union all
         select 4, n.nspname, t.typname, 0, format('comment on type %I.%I is %L;', n.nspname, t.typname, d.description)
         from pg_description d join pg_type t on d.classoid = 'pg_type'::regclass and d.objoid = t.oid
         join pg_namespace n on n.oid = t.typnamespace
         where n.oid = any ($1::oid[])
         union all
         select 5, n.nspname, c.relname || '.' || pol.polname, 0,
                format('comment on policy %I on %I.%I is %L;', pol.polname, n.nspname, c.relname, d.description)
         from pg_description d join pg_policy pol on d.classoid = 'pg_policy'::regclass and d.objoid = pol.oid
         join pg_class c on c.oid = pol.polrelid join pg_namespace n on n.oid = c.relnamespace
         where n.oid = any ($1::oid[])
       ) x order by k, a collate "C", b collate "C", c`,
    [nsOids],
  );
}

/**
 * Grants: the owner's own rights are left out; functions whose PUBLIC execute
 * was revoked say so, since that is the default they depart from.
 */
async function grantSection(cat: Catalog): Promise<string[]> {
  const { client, nsOids } = cat;
  const acl = await rows<AclEntry>(
    client,
    `with acl as (
       select 1 as k, 'schema' as kind, quote_ident(n.nspname) as object, n.nspname as order_key,
              n.nspowner as owner, a.grantee, a.privilege_type, null::text as col, 0 as attnum
       from pg_namespace n cross join lateral aclexplode(n.nspacl) a
       where n.oid = any ($1::oid[])
       union all
       select 2, case when c.relkind = 'S' then 'sequence' else 'table' end, format('%I.%I', ns.nspname, c.relname),
              ns.nspname || '.' || c.relname, c.relowner, a.grantee, a.privilege_type, null, 0
       from pg_class c join pg_namespace ns on ns.oid = c.relnamespace cross join lateral aclexplode(c.relacl) a
       where c.relnamespace = any ($1::oid[]) and c.relkind in ('r', 'p', 'v', 'm', 'S') and ${NOT_EXTENSION('pg_class', 'c')}
       union all
       select 2, 'table', format('%I.%I', ns.nspname, c.relname), ns.nspname || '.' || c.relname, c.relowner,
              a.grantee, a.privilege_type, quote_ident(att.attname), att.attnum
       from pg_attribute att join pg_class c on c.oid = att.attrelid join pg_namespace ns on ns.oid = c.relnamespace
       cross join lateral aclexplode(att.attacl) a
       where c.relnamespace = any ($1::oid[]) and att.attnum > 0 and not att.attisdropped
       union all
       select 4, case p.prokind when 'p' then 'procedure' else 'function' end,
              format('%I.%I(%s)', ns.nspname, p.proname, pg_get_function_identity_arguments(p.oid)),
              ns.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
              p.proowner, a.grantee, a.privilege_type, null, 0
       from pg_proc p join pg_namespace ns on ns.oid = p.pronamespace cross join lateral aclexplode(p.proacl) a
       where p.pronamespace = any ($1::oid[]) and ${NOT_EXTENSION('pg_proc', 'p')}
       union all
       select 5, 'type', format('%I.%I', ns.nspname, t.typname), ns.nspname || '.' || t.typname, t.typowner,
              a.grantee, a.privilege_type, null, 0
       from pg_type t join pg_namespace ns on ns.oid = t.typnamespace cross join lateral aclexplode(t.typacl) a
       where t.typnamespace = any ($1::oid[]) and ${NOT_EXTENSION('pg_type', 't')}
     ), named as (
       select acl.*, case when acl.grantee = 0 then 'public' else quote_ident(r.rolname) end as grantee_name
       from acl left join pg_roles r on r.oid = acl.grantee
       where acl.grantee <> acl.owner
     )
     -- whole-object privileges, one line per grantee; column privileges, one
     -- line per grantee and privilege (GRANT takes a column list per privilege)
     select kind, object, grantee, privileges, columns from (
       select k, kind, object, order_key, grantee_name as grantee,
              array_agg(lower(privilege_type) order by lower(privilege_type)) as privileges, null::text[] as columns
       from named where col is null
       group by k, kind, object, order_key, grantee_name
       union all
       select k, kind, object, order_key, grantee_name, array[lower(privilege_type)], array_agg(col order by attnum)
       from named where col is not null
       group by k, kind, object, order_key, grantee_name, privilege_type
     ) g
     order by k, order_key collate "C", columns collate "C" nulls first, grantee collate "C", privileges collate "C"`,
    [nsOids],
  );
  const revokedFromPublic = await lines(
    client,
    `select format('revoke all on %s %I.%I(%s) from public;', case p.prokind when 'p' then 'procedure' else 'function' end,
                   n.nspname, p.proname, pg_get_function_identity_arguments(p.oid)) as line
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where p.pronamespace = any ($1::oid[]) and p.proacl is not null and ${NOT_EXTENSION('pg_proc', 'p')}
       and not exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE')
     order by n.nspname, p.proname, pg_get_function_identity_arguments(p.oid) collate "C"`,
    [nsOids],
  );
  return [...revokedFromPublic, ...grantLines(acl)];
}

/** Renders the schema of the database behind `client` (call inside a transaction), section by section. */
export async function renderSchema(client: Client): Promise<string> {
  await client.query('set local search_path = pg_catalog');
  const schemas = await rows<{ oid: number; nspname: string }>(client, SCHEMAS_SQL);
  const cat: Catalog = { client, nsOids: schemas.map((s) => s.oid) };
  await assertSupported(cat);
  const functions = await functionRenderer(cat);
  const tables = await loadTables(cat);
  const sections: [string, string[]][] = [
    ['extensions', await extensionLines(cat)],
    ['schemas', await schemaLines(cat)],
    ['types', await typeLines(cat)],
    ['functions', functions(false)],
    ['sequences', await sequenceLines(cat)],
    ['tables', await tableLines(cat, tables)],
    ['foreign keys', await foreignKeyLines(cat)],
    ['indexes', await indexLines(cat)],
    ['functions over table row types', functions(true)],
    ['views', await viewLines(cat)],
    ['row-level security', await rlsLines(cat, tables)],
    ['triggers', await triggerLines(cat)],
    ['comments', await commentLines(cat)],
    ['grants', await grantSection(cat)],
  ];
  const out = await header(client);
  for (const [title, lines] of sections) {
    if (lines.length) out.push('', '-'.repeat(78), `-- ${title}`, '-'.repeat(78), ...lines);
  }
  return `${trimLineEnds(out.join('\n'))}\n`;
}

/** The dump of the database behind `pool`, read in a transaction that changes nothing. */
export async function dumpSchema(pool: Pool): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('begin read only');
    return await renderSchema(client);
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

export function databaseUrl(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * Migrates a scratch database (schema_dump_<random>) on the server behind
 * `pool` and dumps it, so the dump shows what the migrations build, never the
 * state of whatever database the operator points at. The scratch database is
 * dropped afterwards.
 */
export async function dumpFreshSchema(pool: Pool, serverUrl: string): Promise<string> {
  const name = `schema_dump_${randomBytes(6).toString('hex')}`;
  await pool.query(`create database ${ident(name)}`);
  try {
    const scratch = createPool(databaseUrl(serverUrl, name), 2);
    try {
      await migrateUp(scratch);
      return await dumpSchema(scratch);
    } finally {
      await scratch.end();
    }
  } finally {
    await pool.query(`drop database if exists ${ident(name)} with (force)`);
  }
}
