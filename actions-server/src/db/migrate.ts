// Applies hasura/migrations/default/<version>_<name>/up.sql in order, once each,
// recording them in the table and shape nself uses, so `nself db migrate up`,
// `hasura migrate apply` and this runner all read the same folders.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from './tx.ts';
import { withTransaction } from './tx.ts';

export const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../../../hasura/migrations/default');

export interface Migration {
  version: bigint;
  name: string;
  dir: string;
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const migrations: Migration[] = [];
  for (const entry of entries) {
    const match = /^(\d+)_(.+)$/.exec(entry.name);
    if (!entry.isDirectory() || !match?.[1] || !match[2]) continue;
    migrations.push({ version: BigInt(match[1]), name: match[2], dir: path.join(dir, entry.name) });
  }
  return migrations.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

const LOCK_KEY = 7_239_114_001; // one runner at a time per database

async function ensureTable(pool: Pool): Promise<void> {
  await pool.query(`
    create table if not exists public.schema_migrations (
      version bigint primary key,
      name text,
      applied_at timestamptz default now()
    );
    alter table public.schema_migrations enable row level security;
    alter table public.schema_migrations force row level security;`);
}

export async function appliedVersions(pool: Pool): Promise<Set<bigint>> {
  await ensureTable(pool);
  const { rows } = await pool.query<{ version: string }>('select version::text from public.schema_migrations');
  return new Set(rows.map((r) => BigInt(r.version)));
}

/** Applies pending migrations, each in its own transaction with its record. Returns the names applied. */
export async function migrateUp(pool: Pool, opts: { dir?: string; log?: (msg: string) => void } = {}): Promise<string[]> {
  await ensureTable(pool);
  const applied: string[] = [];
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    const done = await appliedVersions(pool);
    for (const m of await listMigrations(opts.dir)) {
      if (done.has(m.version)) continue;
      const sql = await readFile(path.join(m.dir, 'up.sql'), 'utf8');
      await client.query('begin');
      try {
        await client.query(sql);
        await client.query('insert into public.schema_migrations (version, name) values ($1, $2)', [m.version.toString(), m.name]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        throw new Error(`migration ${m.version}_${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      opts.log?.(`applied ${m.version}_${m.name}`);
      applied.push(`${m.version}_${m.name}`);
    }
  } finally {
    await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
  return applied;
}

/** Rolls back the last `steps` applied migrations with their down.sql. */
export async function migrateDown(pool: Pool, steps = 1, opts: { dir?: string } = {}): Promise<string[]> {
  const done = await appliedVersions(pool);
  const targets = (await listMigrations(opts.dir))
    .filter((m) => done.has(m.version))
    .reverse()
    .slice(0, steps);
  const reverted: string[] = [];
  for (const m of targets) {
    const sql = await readFile(path.join(m.dir, 'down.sql'), 'utf8');
    await withTransaction(
      pool,
      async (client) => {
        await client.query(sql);
        await client.query('delete from public.schema_migrations where version = $1', [m.version.toString()]);
      },
      { limits: false },
    );
    reverted.push(`${m.version}_${m.name}`);
  }
  return reverted;
}
