// Wires the services together; used by main.ts and by tests, so both run the
// same server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Env } from './core/config.ts';
import type { Logger } from './core/log.ts';
import type { Pool } from './db/tx.ts';
import { TenantResolver } from './domains/resolver.ts';
import { createTokenService } from './auth/tokens.ts';
import { AccessCache } from './auth/access.ts';
import type { AppContext } from './core/context.ts';
import { createApp } from './http/app.ts';
import { createStripeClient } from './billing/stripe-client.ts';
import { wireHasura } from './hasura/wiring.ts';
import { buildLimits, stopLimits } from './limits/wiring.ts';
import { TenantDatabases } from './tenants/databases.ts';
import { checkDeploymentSettings } from './db/deployment.ts';
import { setTransactionLimits, type TransactionLimits } from './db/tx.ts';
import { serverPoolOptions } from './db/database.ts';
import { AnalyticsForwarder } from './analytics/service.ts';

export interface RunningServer {
  ctx: AppContext;
  server: Server;
  url: string;
  close(): Promise<void>;
}

/** The limits every request transaction gets (configuration). */
export function transactionLimits(env: Env): TransactionLimits {
  return {
    statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
    lockTimeoutMs: env.DB_LOCK_TIMEOUT_MS,
    idleInTransactionTimeoutMs: env.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

export async function buildContext(env: Env, log: Logger, pool: Pool, databaseUrl: string): Promise<AppContext> {
  setTransactionLimits(pool, transactionLimits(env));
  const resolver = new TenantResolver({
    pool,
    databaseUrl,
    log,
    ttlMs: env.TENANT_CACHE_TTL_MS,
    max: env.TENANT_CACHE_MAX,
  });
  const access = new AccessCache({ pool, databaseUrl, log, ttlMs: env.TENANT_CACHE_TTL_MS, max: env.TENANT_CACHE_MAX });
  await Promise.all([resolver.start(), access.start()]);
  const tokens = createTokenService(env, () =>
    log.warn('JWT_SECRET is not set: using a random secret for this process (tokens end with it)'),
  );
  // Before anything else touches tenants: a process configured apart from its deployment must not run.
  const deploymentProblems = await checkDeploymentSettings(pool, env);
  for (const problem of deploymentProblems) log.error(problem);
  const limits = await buildLimits(env, log, pool);
  const databases = tenantDatabases(env, log, pool, databaseUrl, { serving: true });
  databases.watch(resolver);
  resolver.onChange((change) => limits.limits.forget(change));
  const ctx: AppContext = {
    env,
    log,
    pool,
    resolver,
    tokens,
    access,
    provisioningSteps: [],
    deprovisioningSteps: [],
    databases,
    deploymentProblems,
    ...limits,
    analytics: new AnalyticsForwarder(env, log),
  };
  if (env.STRIPE_SECRET_KEY) ctx.stripe = createStripeClient(env.STRIPE_SECRET_KEY, env.STRIPE_API_BASE);
  else log.info('STRIPE_SECRET_KEY is not set: billing is disabled (billing routes answer 503)');
  wireHasura(ctx);
  // After the Hasura source is gone (it connects to the database): the tenant's database.
  ctx.deprovisioningSteps.push((tenantId) => databases.dropFor(tenantId));
  return ctx;
}

/** The database tier's pools, as configured (also for operator commands; `serving`: with the request limits). */
export function tenantDatabases(env: Env, log: Logger, pool: Pool, databaseUrl: string, opts: { serving?: boolean } = {}): TenantDatabases {
  return new TenantDatabases({
    ...(opts.serving ? { poolOptions: serverPoolOptions(env, log, 'tenant-database'), limits: transactionLimits(env) } : {}),
    mainUrl: databaseUrl,
    mainPool: pool,
    servers: env.TENANT_DATABASE_SERVERS,
    poolSize: env.TENANT_DB_POOL_SIZE,
    maxPools: env.TENANT_DB_POOLS_MAX,
    idleMs: env.TENANT_DB_POOL_IDLE_MS,
    log,
  });
}

/** Releases what buildContext opened (LISTEN clients, limits, tenant databases' pools); the main pool stays the caller's. */
export async function closeContext(ctx: AppContext): Promise<void> {
  await Promise.all([ctx.resolver.stop(), ctx.access.stop()]);
  await stopLimits(ctx);
  await ctx.databases.close();
  await ctx.analytics.close();
}

/** `opts.server`: an HTTP server already listening (it answered health probes while booting) takes the application over. */
export async function startServer(ctx: AppContext, port: number, host = '0.0.0.0', opts: { server?: Server } = {}): Promise<RunningServer> {
  const app = createApp(ctx);
  let server: Server;
  if (opts.server) {
    server = opts.server;
    server.removeAllListeners('request');
    server.on('request', app);
  } else {
    server = await listenWith(app, port, host);
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    ctx,
    server,
    url: `http://127.0.0.1:${actualPort}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closeContext(ctx);
    },
  };
}

/** Listens with a plain request handler (the boot handler, then the application). */
export function listenWith(handler: (req: IncomingMessage, res: ServerResponse) => void, port: number, host = '0.0.0.0'): Promise<Server> {
  return new Promise<Server>((resolve, reject) => {
    const s = createServer(handler);
    s.once('error', reject);
    s.listen(port, host, () => {
      s.off('error', reject);
      resolve(s);
    });
  });
}
