// DATABASE_URL when given; otherwise the embedded PostgreSQL under EMBEDDED_PG_DIR.
import pg from 'pg';
import type { Env } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { isConnectionError } from '../core/errors.ts';
import { startEmbeddedPostgres } from './embedded.ts';

export interface Database {
  url: string;
  pool: pg.Pool;
  embedded: boolean;
  close(): Promise<void>;
}

export interface PoolOptions {
  /** How long a caller waits for a connection (a free one, or a new one) before failing; never forever. */
  acquireTimeoutMs?: number;
  /** Told about a connection that broke (idle or checked out); the pool drops it either way. */
  onClientError?: (err: Error) => void;
}

/** Acquisition timeout of pools that are not the server's (CLI, tests): generous, but bounded. */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 10_000;

/**
 * Every pool of the project comes from here. A pg client emits `error` when its
 * backend dies (terminated, failover, network cut, idle-in-transaction timeout);
 * with nobody listening Node would exit. The pool's own `error` event covers
 * idle clients only, so every client also gets a listener the moment it
 * connects, for its whole life: a checked-out client's owner then sees the
 * failure on its next query (withTransaction releases it as broken).
 */
export function createPool(url: string, max: number, idleTimeoutMillis = 30_000, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis,
    connectionTimeoutMillis: opts.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS,
  });
  const report = opts.onClientError ?? (() => undefined);
  pool.on('error', report);
  pool.on('connect', (client) => client.on('error', report));
  return pool;
}

/** A single connection outside any pool (LISTEN, CREATE DATABASE), with its error listener attached before it connects. */
export async function openClient(url: string, onError: (err: Error) => void = () => undefined): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: DEFAULT_ACQUIRE_TIMEOUT_MS });
  client.on('error', onError);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw err;
  }
  return client;
}

/** The main pool's settings from the configuration; broken connections are logged once each. */
export function serverPoolOptions(env: Pick<Env, 'DB_POOL_ACQUIRE_TIMEOUT_MS'>, log: Logger, label: string): PoolOptions {
  return {
    acquireTimeoutMs: env.DB_POOL_ACQUIRE_TIMEOUT_MS,
    onClientError: (err) =>
      log.warn({ pool: label, err: err.message }, 'database connection lost; it is discarded and the work it carried fails alone'),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryOptions {
  attempts: number;
  maxDelayMs: number;
  log: Logger;
  /** What is being waited for, for the log line. */
  what: string;
}

/**
 * Runs fn until it succeeds, retrying connection failures only (bounded, with
 * exponential backoff): PostgreSQL may come up after this process, or restart
 * under it while it boots. Any other error is thrown at once.
 */
export async function retryOnConnectionError<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await fn();
      if (attempt > 1) opts.log.info({ attempt }, `${opts.what}: PostgreSQL is reachable`);
      return result;
    } catch (err) {
      if (!isConnectionError(err) || attempt >= opts.attempts) throw err;
      opts.log.warn(
        { attempt, attempts: opts.attempts, retryInMs: delay, err: (err as Error).message },
        `${opts.what}: PostgreSQL is not reachable yet (attempt ${attempt}/${opts.attempts}); retrying in ${(delay / 1000).toFixed(1)} s`,
      );
      await sleep(delay);
      delay = Math.min(delay * 2, opts.maxDelayMs);
    }
  }
}

export async function openDatabase(env: Env, log: Logger): Promise<Database> {
  let url = env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!url) {
    log.info({ dir: env.EMBEDDED_PG_DIR, port: env.EMBEDDED_PG_PORT }, 'DATABASE_URL is not set: starting embedded PostgreSQL');
    const server = await startEmbeddedPostgres({
      dataDir: env.EMBEDDED_PG_DIR,
      port: env.EMBEDDED_PG_PORT,
      persistent: true,
      onLog: (line) => log.debug({ postgres: line.trim() }),
    });
    url = server.url;
    stopEmbedded = server.stop;
  }
  const pool = createPool(url, env.DB_POOL_MAX, 30_000, serverPoolOptions(env, log, 'main'));
  try {
    await retryOnConnectionError(() => pool.query('select 1'), {
      attempts: env.DB_BOOT_ATTEMPTS,
      maxDelayMs: env.DB_BOOT_MAX_DELAY_MS,
      log,
      what: 'boot',
    });
  } catch (err) {
    await pool.end().catch(() => undefined);
    await stopEmbedded?.();
    if (!isConnectionError(err)) throw err;
    throw new Error(`PostgreSQL is unreachable after ${env.DB_BOOT_ATTEMPTS} attempts: ${(err as Error).message}`);
  }
  return {
    url,
    pool,
    embedded: stopEmbedded !== undefined,
    async close() {
      await pool.end().catch(() => undefined);
      await stopEmbedded?.();
    },
  };
}
