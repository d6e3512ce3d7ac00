// The migration folders serve three runners: ours, the Hasura CLI and nself
// (which runs every up.sql through psql, without stopping, possibly twice).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { inject } from 'vitest';
import { createPool } from '../../actions-server/src/db/database.ts';
import { appliedVersions, listMigrations, migrateDown, migrateUp } from '../../actions-server/src/db/migrate.ts';
import { dumpSchema } from '../../actions-server/src/db/dump.ts';
import { withDatabase } from '../support/global-setup.ts';

const name = `mig_${Date.now().toString(36)}`;
let admin: pg.Client;
let pool: pg.Pool;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await admin.connect();
  await admin.query(`create database ${admin.escapeIdentifier(name)}`);
  pool = createPool(withDatabase(inject('pgAdminUrl'), name), 2);
});
afterAll(async () => {
  await pool?.end();
  await admin.query(`drop database if exists ${admin.escapeIdentifier(name)} with (force)`);
  await admin.end();
});

it('applies every migration once, in order, recording them in nself’s table', async () => {
  const all = await listMigrations();
  expect(all.length).toBeGreaterThan(0);
  const applied = await migrateUp(pool);
  expect(applied).toEqual(all.map((m) => `${m.version}_${m.name}`));
  expect(await migrateUp(pool)).toEqual([]);
  const cols = await pool.query<{ column_name: string; data_type: string }>(
    `select column_name, data_type from information_schema.columns
     where table_schema = 'public' and table_name = 'schema_migrations' order by ordinal_position`,
  );
  expect(cols.rows).toEqual([
    { column_name: 'version', data_type: 'bigint' },
    { column_name: 'name', data_type: 'text' },
    { column_name: 'applied_at', data_type: 'timestamp with time zone' },
  ]);
});

it('every up.sql is safe to run again (as nself may): the schema is the same after, and operator edits to plans stay', async () => {
  const before = await dumpSchema(pool);
  await pool.query(`update public.plans set max_channels = 7, features = features || '{"sso": true}' where id = 'free'`);
  const edited = (await pool.query('select * from public.plans order by id')).rows;
  for (const m of await listMigrations()) {
    const sql = await readFile(path.join(m.dir, 'up.sql'), 'utf8');
    await expect(pool.query(sql), `${m.version}_${m.name}`).resolves.toBeDefined();
  }
  expect(await dumpSchema(pool)).toEqual(before);
  expect((await pool.query('select * from public.plans order by id')).rows).toEqual(edited);
});

it('rolls everything back with down.sql and up again', async () => {
  const count = (await listMigrations()).length;
  expect(await migrateDown(pool, count)).toHaveLength(count);
  expect((await appliedVersions(pool)).size).toBe(0);
  const left = await pool.query(`select tablename from pg_tables where schemaname = 'public' and tablename <> 'schema_migrations'`);
  expect(left.rows).toEqual([]);
  expect(await migrateUp(pool)).toHaveLength(count);
});
