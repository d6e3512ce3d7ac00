// Moving rows between two copies of a tenant's data (a "side": the pooled
// tables filtered on tenant_id, or a tenant schema in the main database or in
// the tenant's own database). Everything here runs as the owner; writes into
// the target run with session_replication_role = replica, so the target's
// triggers stay silent: its copy is not served yet, the rows were metered and
// checked against the plan when they were first written, and the guard must
// not record them as changes.
import pg from 'pg';
import { createPool } from '../../db/database.ts';
import { withTransaction, type Client, type Pool } from '../../db/tx.ts';
import type { TenantDatabases } from '../databases.ts';
import { POOLED_SCHEMA } from '../data.ts';
import type { TableSum } from './records.ts';
import type { Placement } from '../placement.ts';

const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** One copy of a tenant's data. */
export interface Side {
  placement: Placement;
  tenantId: string;
  /** 'pooled' or the tenant schema. */
  schema: string;
  /** Pooled rows carry tenant_id (filtered on read, written on insert). */
  keyed: boolean;
}

export interface TableSpec {
  name: string;
  /** Columns both copies have, tenant_id aside, in the target's order. */
  columns: string[];
}

export function sideOf(tenantId: string, placement: Placement): Side {
  if (placement.isolation === 'pooled') return { placement, tenantId, schema: POOLED_SCHEMA, keyed: true };
  if (!placement.schema_name) throw new Error(`${placement.isolation} placement without a schema`);
  return { placement, tenantId, schema: placement.schema_name, keyed: false };
}

/** Whether both sides live in the main database (one transaction can see both). */
export const inMainDatabase = (side: Side): boolean => side.placement.isolation !== 'database';

/**
 * Runs fn with owner connections to the database holding a side: the main
 * pool, or a small pool of the tenant's own database opened for this call
 * (not the request path's cached pools: opening those rewrites the registry
 * copy, and the database may not exist yet or be rebuilt).
 */
export async function withSidePool<T>(main: Pool, databases: TenantDatabases, side: Side, fn: (pool: Pool) => Promise<T>): Promise<T> {
  if (inMainDatabase(side)) return fn(main);
  const { database_name: databaseName, database_url_env: databaseUrlEnv } = side.placement;
  if (!databaseName) throw new Error('database placement without a database');
  const pool = createPool(databases.databaseUrl({ tenantId: side.tenantId, databaseName, databaseUrlEnv }), 3, 5_000);
  try {
    return await fn(pool);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

// Copies may run long: they take none of the request limits (statement, lock, idle timeouts).
const COPY_TX = { limits: false } as const;
const SNAPSHOT_TX = { begin: 'begin isolation level repeatable read', limits: false } as const;
const READ_SNAPSHOT_TX = { begin: 'begin isolation level repeatable read read only', limits: false } as const;

/** A transaction writing into a target copy: no triggers fire (see the header). */
const targetWrite = <T>(pool: Pool, fn: (client: Client) => Promise<T>) =>
  withTransaction(
    pool,
    async (client) => {
      await client.query('set local session_replication_role = replica');
      return fn(client);
    },
    COPY_TX,
  );

const rel = (side: Side, table: string) => `${ident(side.schema)}.${ident(table)}`;

export async function tablesOf(pool: Pool | Client, side: Pick<Side, 'schema'>): Promise<TableSpec[]> {
  const { rows } = await pool.query<TableSpec>(
    `select c.relname as name,
            array(select a.attname::text from pg_attribute a
                   where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attname <> 'tenant_id'
                   order by a.attnum) as columns
       from pg_class c
       join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p')
      order by c.relname`,
    [side.schema],
  );
  return rows;
}

/**
 * The tables to move: both copies must have the same tables with the same
 * columns (the pooled tables follow the template), else the move is refused
 * before anything is copied.
 */
export async function matchTables(src: { pool: Pool; side: Side }, tgt: { pool: Pool; side: Side }): Promise<TableSpec[]> {
  const [from, to] = await Promise.all([tablesOf(src.pool, src.side), tablesOf(tgt.pool, tgt.side)]);
  const byName = new Map(from.map((t) => [t.name, t]));
  const problems: string[] = [];
  if (from.length !== to.length || to.some((t) => !byName.has(t.name))) {
    problems.push(`tables differ: ${from.map((t) => t.name).join(',')} vs ${to.map((t) => t.name).join(',')}`);
  }
  for (const t of to) {
    const s = byName.get(t.name);
    if (s && (s.columns.length !== t.columns.length || t.columns.some((c) => !s.columns.includes(c)))) {
      problems.push(`${t.name}: columns differ (${s.columns.join(',')} vs ${t.columns.join(',')})`);
    }
  }
  if (problems.length) throw new Error(`the source and target placements do not match: ${problems.join('; ')}`);
  if (!to.every((t) => t.columns.includes('id'))) throw new Error('every tenant table needs an id column');
  return to;
}

const columnList = (spec: TableSpec) => spec.columns.map(ident).join(', ');

/** Deletes a copy's rows of these tables (the target before a fresh snapshot). */
async function clear(client: Client, side: Side, tables: TableSpec[]): Promise<void> {
  for (const t of tables) {
    if (side.keyed) await client.query(`delete from ${rel(side, t.name)} where tenant_id = $1`, [side.tenantId]);
    else await client.query(`delete from ${rel(side, t.name)}`);
  }
}

/** Source rows as a JSON array (text, so bigint values travel exactly). */
function readRowsSql(side: Side, spec: TableSpec, where: string): string {
  return `select coalesce(jsonb_agg(to_jsonb(s) order by s.id), '[]'::jsonb)::text as rows, count(*)::int as n,
                 (array_agg(s.id order by s.id desc))[1]::text as last
            from (select ${columnList(spec)} from ${rel(side, spec.name)}
                   where ${side.keyed ? 'tenant_id = $1 and ' : '$1::uuid is not null and '}${where}) s`;
}

async function insertRows(client: Client, side: Side, spec: TableSpec, rowsJson: string): Promise<void> {
  const cols = columnList(spec);
  const values = spec.columns.map((c) => `r.${ident(c)}`).join(', ');
  await client.query(
    `insert into ${rel(side, spec.name)} (${cols}${side.keyed ? ', tenant_id' : ''})
     select ${values}${side.keyed ? ', $2::uuid' : ''} from jsonb_populate_recordset(null::${rel(side, spec.name)}, $1::jsonb) r`,
    side.keyed ? [rowsJson, side.tenantId] : [rowsJson],
  );
}

/**
 * Copies one consistent snapshot of the source (REPEATABLE READ) into the
 * emptied target. Both in the main database: one transaction; else the source
 * is read in key order, in batches, inside one snapshot, and the target is
 * written in one transaction. Run again, it starts over: the target is cleared first.
 */
export async function copySnapshot(
  src: { pool: Pool; side: Side },
  tgt: { pool: Pool; side: Side },
  tables: TableSpec[],
  batchSize: number,
): Promise<number> {
  if (inMainDatabase(src.side) && inMainDatabase(tgt.side)) {
    return withTransaction(
      src.pool,
      async (c) => {
        await c.query('set local session_replication_role = replica');
        await clear(c, tgt.side, tables);
        let copied = 0;
        for (const t of tables) {
          const cols = columnList(t);
          const res = await c.query(
            `insert into ${rel(tgt.side, t.name)} (${cols}${tgt.side.keyed ? ', tenant_id' : ''})
           select ${cols}${tgt.side.keyed ? ', $1::uuid' : ''} from ${rel(src.side, t.name)}
            where ${src.side.keyed ? 'tenant_id = $1' : '$1::uuid is not null'}`,
            [src.side.tenantId],
          );
          copied += res.rowCount ?? 0;
        }
        return copied;
      },
      SNAPSHOT_TX,
    );
  }
  return withTransaction(
    src.pool,
    (s) =>
      targetWrite(tgt.pool, async (t) => {
        await clear(t, tgt.side, tables);
        let copied = 0;
        for (const spec of tables) {
          let last = NIL_UUID;
          for (;;) {
            const { rows } = await s.query<{ rows: string; n: number; last: string | null }>(
              `${readRowsSql(src.side, spec, 'id > $2::uuid order by id limit $3')}`,
              [src.side.tenantId, last, batchSize],
            );
            const batch = rows[0];
            if (!batch || batch.n === 0 || !batch.last) break;
            await insertRows(t, tgt.side, spec, batch.rows);
            copied += batch.n;
            last = batch.last;
          }
        }
        return copied;
      }),
    READ_SNAPSHOT_TX,
  );
}

/**
 * Applies the changes the source's guard recorded (tenant_move_changes): for
 * each changed key the source's current row replaces the target's, or the
 * target's goes when the source has none. The keys are read first and the
 * rows after, so the rows are at least as new as the changes; only the keys
 * read are deleted, so a change recorded meanwhile waits for the next round.
 * Every round is idempotent. Returns the number of changes applied.
 */
export async function syncChanges(
  src: { pool: Pool; side: Side },
  tgt: { pool: Pool; side: Side },
  tables: TableSpec[],
  opts: { batchSize: number; untilEmpty: boolean; maxRounds: number },
): Promise<number> {
  const specs = new Map(tables.map((t) => [t.name, t]));
  const tenantId = src.side.tenantId;
  let applied = 0;
  for (let round = 0; round < opts.maxRounds || opts.untilEmpty; round++) {
    const { rows: changes } = await src.pool.query<{ seq: string; table_name: string; row_id: string }>(
      `select seq::text, table_name, row_id::text from public.tenant_move_changes
        where tenant_id = $1 order by seq limit $2`,
      [tenantId, opts.batchSize],
    );
    if (changes.length === 0) break;
    const ids = new Map<string, Set<string>>();
    for (const ch of changes) {
      if (!specs.has(ch.table_name)) throw new Error(`a change was recorded for an unknown table ${ch.table_name}`);
      const set = ids.get(ch.table_name) ?? new Set<string>();
      set.add(ch.row_id);
      ids.set(ch.table_name, set);
    }
    const current: { spec: TableSpec; ids: string[]; rows: string }[] = [];
    for (const [name, set] of ids) {
      const spec = specs.get(name)!;
      const keys = [...set];
      const { rows } = await src.pool.query<{ rows: string }>(readRowsSql(src.side, spec, 'id = any($2::uuid[])'), [tenantId, keys]);
      current.push({ spec, ids: keys, rows: rows[0]?.rows ?? '[]' });
    }
    await targetWrite(tgt.pool, async (t) => {
      for (const { spec, ids: keys, rows } of current) {
        if (tgt.side.keyed) {
          await t.query(`delete from ${rel(tgt.side, spec.name)} where tenant_id = $1 and id = any($2::uuid[])`, [tenantId, keys]);
        } else {
          await t.query(`delete from ${rel(tgt.side, spec.name)} where id = any($1::uuid[])`, [keys]);
        }
        await insertRows(t, tgt.side, spec, rows);
      }
    });
    await src.pool.query('delete from public.tenant_move_changes where tenant_id = $1 and seq = any($2::bigint[])', [
      tenantId,
      changes.map((c) => c.seq),
    ]);
    applied += changes.length;
    if (!opts.untilEmpty && changes.length < opts.batchSize) break;
  }
  return applied;
}

/**
 * Row count and an order-independent checksum (the sum of the first 64 bits
 * of each row's md5) per table, in one snapshot, with the session settings
 * that shape the rows' text fixed, so both copies are compared like for like.
 */
export async function checksums(pool: Pool, side: Side, tables: TableSpec[]): Promise<Record<string, TableSum>> {
  return withTransaction(pool, (c) => tableSums(c, side, tables), READ_SNAPSHOT_TX);
}

/** The session settings that shape rows' text (timestamps, floats): fixed for checksums and exports alike. */
export const STABLE_TEXT_SETTINGS = `set local timezone = 'UTC'; set local datestyle = 'ISO, YMD'; set local intervalstyle = 'postgres'; set local extra_float_digits = 3`;

/** checksums inside the caller's transaction (its snapshot). */
export async function tableSums(
  c: Client,
  side: Pick<Side, 'schema' | 'keyed' | 'tenantId'>,
  tables: TableSpec[],
): Promise<Record<string, TableSum>> {
  await c.query(STABLE_TEXT_SETTINGS);
  const out: Record<string, TableSum> = {};
  for (const t of tables) {
    const { rows } = await c.query<TableSum>(
      `select count(*)::text as rows,
              coalesce(sum(('x' || left(md5(row(${columnList(t)})::text), 16))::bit(64)::bigint::numeric), 0)::text as checksum
         from ${ident(side.schema)}.${ident(t.name)}
        where ${side.keyed ? 'tenant_id = $1' : '$1::uuid is not null'}`,
      [side.tenantId],
    );
    out[t.name] = rows[0]!;
  }
  return out;
}
