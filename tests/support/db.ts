// Per test file: a database cloned from the migrated template, a tenant-role
// prefix of its own (roles are cluster-wide), and a server wired like main.ts.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { loadConfig, type Env } from '../../actions-server/src/core/config.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { createPool } from '../../actions-server/src/db/database.ts';
import { buildContext, startServer, tenantDatabases, type RunningServer } from '../../actions-server/src/server.ts';
import type { TenantDatabases } from '../../actions-server/src/tenants/databases.ts';
import { withTransaction, type Client, type Pool } from '../../actions-server/src/db/tx.ts';
import { withDatabase } from './global-setup.ts';
import { configurePasswordHashing } from '../../actions-server/src/auth/passwords.ts';

export interface TestDb {
  name: string;
  url: string;
  adminUrl: string;
  pool: Pool;
  rolePrefix: string;
  /** Database-tier tenants' databases for this file (named with rolePrefix, dropped by close()). */
  databases: TenantDatabases;
  env(overrides?: Record<string, string>): Env;
  close(): Promise<void>;
}

// Hashes made outside a server (factories) use the suite's cheap argon2 setting too.
configurePasswordHashing({ concurrency: 4, queueMax: 64, memoryKib: Number(process.env['PASSWORD_HASH_MEMORY_KIB'] ?? 1024) });

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-0123456789';

async function adminQuery(adminUrl: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

export async function createTestDb(): Promise<TestDb> {
  const adminUrl = inject('pgAdminUrl');
  const template = inject('pgTemplate');
  const id = randomBytes(5).toString('hex');
  const name = `test_${id}`;
  const rolePrefix = `t${id}_`;
  const ident = pg.Client.prototype.escapeIdentifier;
  await adminQuery(adminUrl, `create database ${ident(name)} template ${ident(template)}`);
  const url = withDatabase(adminUrl, name);
  const pool = createPool(url, 10);
  const env = (overrides: Record<string, string> = {}) =>
    loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'silent',
      DATABASE_URL: url,
      JWT_SECRET: TEST_JWT_SECRET,
      TENANT_ROLE_PREFIX: rolePrefix,
      BASE_DOMAIN: 'saas.test',
      PASSWORD_HASH_MEMORY_KIB: process.env['PASSWORD_HASH_MEMORY_KIB'] ?? '1024',
      // Every test speaks from 127.0.0.1: per-address abuse limits would couple
      // unrelated tests, so they are generous here (tests/security sets its own).
      AUTH_THROTTLE_PER_ADDRESS: '100000',
      AUTH_THROTTLE_PER_ACCOUNT: '100000',
      ANONYMOUS_RATE_LIMIT_PER_MINUTE: '1000000',
      PASSWORD_HASH_QUEUE_MAX: '10000',
      ...overrides,
    });
  const databases = tenantDatabases(env(), createLogger('silent'), pool, url);
  return {
    name,
    url,
    adminUrl,
    pool,
    rolePrefix,
    databases,
    env,
    async close() {
      await databases.close();
      await pool.end();
      await adminQuery(adminUrl, `drop database if exists ${ident(name)} with (force)`);
      // Tenant databases and roles are cluster-wide: this file's carry its prefix.
      const dbs = await adminQuery(adminUrl, `select datname from pg_database where starts_with(datname, $1)`, [rolePrefix]);
      for (const d of dbs.rows as { datname: string }[])
        await adminQuery(adminUrl, `drop database if exists ${ident(d.datname)} with (force)`);
      const { rows } = await adminQuery(adminUrl, `select rolname from pg_roles where starts_with(rolname, $1)`, [rolePrefix]);
      for (const r of rows as { rolname: string }[]) await adminQuery(adminUrl, `drop role if exists ${ident(r.rolname)}`);
    },
  };
}

export async function startTestServer(db: TestDb, envOverrides: Record<string, string> = {}): Promise<RunningServer> {
  const env = db.env(envOverrides);
  const ctx = await buildContext(env, createLogger(env.LOG_LEVEL), db.pool, db.url);
  return startServer(ctx, 0, '127.0.0.1');
}

export interface TestDbFixture {
  db: TestDb;
}

export interface TestServerFixture extends TestDbFixture {
  srv: RunningServer;
}

/** This file's database, made before its tests and dropped after them; `db` is set once the hook ran. */
export function useTestDb(): TestDbFixture {
  const fx = {} as TestDbFixture;
  beforeAll(async () => {
    fx.db = await createTestDb();
  });
  afterAll(async () => {
    await fx.db?.close();
  });
  return fx;
}

type EnvOverrides = Record<string, string>;

/**
 * This file's database and a server on it (env: overrides, or a function giving
 * them when the hook runs). After hooks run in reverse: the server closes
 * before the database is dropped.
 */
export function useTestServer(env: EnvOverrides | (() => EnvOverrides | Promise<EnvOverrides>) = {}): TestServerFixture {
  const fx = useTestDb() as TestServerFixture;
  beforeAll(async () => {
    fx.srv = await startTestServer(fx.db, typeof env === 'function' ? await env() : env);
  });
  afterAll(async () => {
    await fx.srv?.close();
  });
  return fx;
}

/**
 * A login role like `hasura_tenants`, and its URL without a password (the
 * config refuses one there: Hasura would store it in metadata). Where the server
 * wants passwords (embedded PostgreSQL), the role gets the owner's password and
 * PGPASSWORD supplies it, as it does for Hasura.
 */
export async function passwordlessLogin(db: TestDb, role: string): Promise<string> {
  const url = new URL(db.url);
  const password = decodeURIComponent(url.password);
  const ident = pg.Client.prototype.escapeIdentifier;
  const literal = pg.Client.prototype.escapeLiteral;
  await db.pool.query(`create role ${ident(role)} login noinherit nobypassrls${password ? ` password ${literal(password)}` : ''}`);
  if (password) process.env['PGPASSWORD'] = password;
  url.username = role;
  url.password = '';
  return url.toString();
}

/**
 * Runs fn in one transaction with triggers off (session_replication_role =
 * replica): the change sends no NOTIFY, writes no audit entry and keeps the
 * timestamps it is given, as a change made behind the server's back would.
 */
export function withoutTriggers<T>(pool: Pool, fn: (client: Client) => Promise<T>): Promise<T> {
  return withTransaction(pool, fn, { prelude: () => 'set local session_replication_role = replica' });
}
