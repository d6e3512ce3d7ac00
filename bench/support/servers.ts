// Listening helpers: an Express app on 127.0.0.1 with an ephemeral port, and the
// project's own server built the way main.ts builds it.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type express from 'express';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { buildContext, startServer, type RunningServer } from '../../actions-server/src/server.ts';
import type { BenchDb } from './cluster.ts';

export interface Listening {
  url: string;
  close(): Promise<void>;
}

export async function listen(app: express.Express): Promise<Listening> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The real actions server (every router, middleware and service main.ts wires) on this benchmark's database. */
export async function startProjectServer(db: BenchDb, envOverrides: Record<string, string> = {}): Promise<RunningServer> {
  const env = db.env(envOverrides);
  const ctx = await buildContext(env, createLogger(env.LOG_LEVEL), db.pool, db.url);
  return startServer(ctx, 0, '127.0.0.1');
}
