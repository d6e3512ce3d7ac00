// Where benchmarks run: the PostgreSQL server of DATABASE_URL (or an embedded one
// started for the run), a template database migrated from
// hasura/migrations/default, and one database cloned from it per benchmark
// (CREATE DATABASE ... TEMPLATE), each with its own tenant-role prefix. Every
// database and role made here is dropped again by close().
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type Env } from '../../actions-server/src/core/config.ts';
import { createPool } from '../../actions-server/src/db/database.ts';
import { startEmbeddedPostgres } from '../../actions-server/src/db/embedded.ts';
import { migrateUp } from '../../actions-server/src/db/migrate.ts';
import { installJobQueue } from '../../actions-server/src/jobs/runner.ts';
import type { Pool } from '../../actions-server/src/db/tx.ts';
import { freePort, withDatabase } from '../../tests/support/global-setup.ts';

export const BENCH_BASE_DOMAIN = 'saas.test';

export interface BenchDb {
  name: string;
  url: string;
  /** Owner pool (the migration owner), for setup and checks. */
  pool: Pool;
  /** Unique per database: tenant roles are cluster-wide. */
  rolePrefix: string;
  /** Configuration as the server would parse it, pointed at this database. */
  env(overrides?: Record<string, string>): Env;
  close(): Promise<void>;
}

export interface BenchCluster {
  adminUrl: string;
  redisUrl: string | undefined;
  postgresVersion(): Promise<string>;
  createDb(label: string): Promise<BenchDb>;
  /**
   * Hands a database over to a later benchmark of the same run instead of
   * dropping it (thousands of schema tenants take minutes to build and to drop).
   * Dropped by close() if nobody adopts it.
   */
  share(key: string, db: BenchDb): void;
  /** Takes over a database shared under `key`, if a benchmark earlier in the run left one. */
  adopt(key: string): BenchDb | undefined;
  /** Drops every database and role this cluster made that is still there; stops an embedded server. */
  close(): Promise<void>;
}

export interface ClusterOptions {
  /** A server where databases may be created; default DATABASE_URL, else embedded PostgreSQL. */
  adminUrl?: string;
  /** An already migrated template (the test suite's); default: migrate one for this run and drop it after. */
  template?: string;
  redisUrl?: string;
}

/** Quotes an identifier the way the driver does (for DDL on names we built). */
export const ident = (name: string): string => pg.Client.prototype.escapeIdentifier(name);

async function adminQuery<R extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query<R>(sql, params);
  } finally {
    await client.end();
  }
}

/** Drops every role whose name starts with `prefix` (tenant roles made by provisioning). */
async function dropRolesWithPrefix(adminUrl: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ rolname: string }>('select rolname from pg_roles where starts_with(rolname, $1)', [prefix]);
    // Batched: 10,000 roles one statement at a time would take minutes of round trips.
    for (let i = 0; i < rows.length; i += 500) {
      await client.query(
        rows
          .slice(i, i + 500)
          .map((r) => `drop role if exists ${ident(r.rolname)};`)
          .join('\n'),
      );
    }
  } finally {
    await client.end();
  }
}

export async function openCluster(opts: ClusterOptions = {}): Promise<BenchCluster> {
  const runId = randomBytes(4).toString('hex');
  let adminUrl = opts.adminUrl ?? process.env['DATABASE_URL'];
  let stopEmbedded: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'saas-bench-pg-'));
    const server = await startEmbeddedPostgres({ dataDir, port: await freePort(), persistent: false });
    adminUrl = server.url;
    stopEmbedded = server.stop;
  }
  const admin = adminUrl;

  let template = opts.template;
  const ownTemplate = template === undefined;
  if (template === undefined) {
    template = `bench_${runId}_tpl`;
    await adminQuery(admin, `create database ${ident(template)}`);
    const pool = createPool(withDatabase(admin, template), 2);
    try {
      await migrateUp(pool);
      await installJobQueue(pool);
    } finally {
      await pool.end();
    }
  }
  const templateName = template;

  const redisUrl = opts.redisUrl ?? process.env['REDIS_URL'];
  const open = new Set<BenchDb>();
  const shared = new Map<string, BenchDb>();
  let seq = 0;

  return {
    adminUrl: admin,
    redisUrl,
    async postgresVersion() {
      const { rows } = await adminQuery<{ v: string }>(admin, `select current_setting('server_version') as v`);
      return rows[0]?.v ?? 'unknown';
    },
    async createDb(label) {
      const safe = label.replace(/[^a-z0-9]/g, '_').slice(0, 20);
      const name = `bench_${runId}_${++seq}_${safe}`;
      const rolePrefix = `b${runId}${seq.toString(36)}_`;
      await adminQuery(admin, `create database ${ident(name)} template ${ident(templateName)}`);
      const url = withDatabase(admin, name);
      const pool = createPool(url, 10);
      const jwtSecret = randomBytes(32).toString('base64url');
      let closed = false;
      const db: BenchDb = {
        name,
        url,
        pool,
        rolePrefix,
        env: (overrides = {}) =>
          loadConfig({
            NODE_ENV: 'test',
            LOG_LEVEL: 'silent',
            DATABASE_URL: url,
            JWT_SECRET: jwtSecret,
            TENANT_ROLE_PREFIX: rolePrefix,
            BASE_DOMAIN: BENCH_BASE_DOMAIN,
            ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
            ...overrides,
          }),
        async close() {
          if (closed) return;
          closed = true;
          open.delete(db);
          await pool.end().catch(() => undefined);
          await adminQuery(admin, `drop database if exists ${ident(name)} with (force)`);
          await dropRolesWithPrefix(admin, rolePrefix);
        },
      };
      open.add(db);
      return db;
    },
    share(key, db) {
      shared.set(key, db);
    },
    adopt(key) {
      const db = shared.get(key);
      shared.delete(key);
      return db;
    },
    async close() {
      for (const db of [...open]) await db.close().catch(() => undefined);
      if (ownTemplate) await adminQuery(admin, `drop database if exists ${ident(templateName)} with (force)`).catch(() => undefined);
      await stopEmbedded?.();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
