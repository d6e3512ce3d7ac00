// DATABASE_URL when given; otherwise the embedded PostgreSQL under EMBEDDED_PG_DIR.
import pg from 'pg';
import type { Env } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { startEmbeddedPostgres } from './embedded.ts';

export interface Database {
  url: string;
  pool: pg.Pool;
  embedded: boolean;
  close(): Promise<void>;
}

// bigint columns (counters, byte sizes) come back as strings; keep them exact.
export function createPool(url: string, max: number, idleTimeoutMillis = 30_000): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, idleTimeoutMillis });
  // An idle client's connection dying must not crash the process.
  pool.on('error', () => undefined);
  return pool;
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
  const pool = createPool(url, env.DB_POOL_MAX);
  return {
    url,
    pool,
    embedded: stopEmbedded !== undefined,
    async close() {
      await pool.end();
      await stopEmbedded?.();
    },
  };
}
