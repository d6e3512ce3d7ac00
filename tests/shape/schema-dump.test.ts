// sql/schema.sql is the dump of a freshly migrated database (no tenants): a
// migration committed without refreshing it fails here. The dump is also
// complete enough to rebuild the schema: restored into an empty database and
// dumped again, it comes back identical.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { beforeAll, expect, it } from 'vitest';
import { createPool } from '../../actions-server/src/db/database.ts';
import { databaseUrl, dumpSchema, SCHEMA_DUMP_FILE } from '../../actions-server/src/db/dump.ts';
import { useTestDb } from '../support/db.ts';

let dump: string;

const fx = useTestDb();
beforeAll(async () => {
  dump = await dumpSchema(fx.db.pool);
});

it('sql/schema.sql is current', async () => {
  const committed = await readFile(SCHEMA_DUMP_FILE, 'utf8').catch(() => '');
  if (committed !== dump) {
    const a = committed.split('\n');
    const b = dump.split('\n');
    const line = a.findIndex((l, i) => l !== b[i]);
    const at = line === -1 ? a.length : line;
    expect.fail(
      `sql/schema.sql is stale: run \`npm run db:dump\` and commit the result.\n` +
        `first difference at line ${at + 1}:\n  committed: ${a[at] ?? '(end of file)'}\n  migrated:  ${b[at] ?? '(end of file)'}`,
    );
  }
});

it('is stable between runs', async () => {
  expect(await dumpSchema(fx.db.pool)).toBe(dump);
});

it('rebuilds the same schema in an empty database', async () => {
  const name = `${fx.db.name}_restore`;
  const ident = pg.Client.prototype.escapeIdentifier;
  await fx.db.pool.query(`create database ${ident(name)}`);
  const pool = createPool(databaseUrl(fx.db.url, name), 2);
  try {
    await pool.query(dump);
    // The restored schema_migrations table is empty, so only the header differs.
    const withoutHistory = (s: string) => s.replace(/^-- migration .*\n/gm, '');
    expect(withoutHistory(await dumpSchema(pool))).toBe(withoutHistory(dump));
  } finally {
    await pool.end();
    await fx.db.pool.query(`drop database if exists ${ident(name)} with (force)`);
  }
});
