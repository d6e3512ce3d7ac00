// Wires the services together; used by main.ts and by tests, so both run the
// same server.
import type { Server } from 'node:http';
import type { Env } from './core/config.ts';
import type { Logger } from './core/log.ts';
import type { Pool } from './db/tx.ts';
import { TenantResolver } from './domains/resolver.ts';
import { createTokenService } from './auth/tokens.ts';
import type { AppContext } from './core/context.ts';
import { createApp } from './http/app.ts';
import { createStripeClient } from './billing/stripe-client.ts';
import { wireHasura } from './hasura/wiring.ts';
import { buildLimits, stopLimits } from './limits/wiring.ts';
import { TenantDatabases } from './tenants/databases.ts';
import { AnalyticsForwarder } from './analytics/service.ts';

export interface RunningServer {
  ctx: AppContext;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function buildContext(env: Env, log: Logger, pool: Pool, databaseUrl: string): Promise<AppContext> {
  const resolver = new TenantResolver({
    pool,
    databaseUrl,
    log,
    ttlMs: env.TENANT_CACHE_TTL_MS,
    max: env.TENANT_CACHE_MAX,
  });
  await resolver.start();
  const tokens = createTokenService(env, () =>
    log.warn('JWT_SECRET is not set: using a random secret for this process (tokens end with it)'),
  );
  const limits = await buildLimits(env, log, pool);
  const databases = tenantDatabases(env, log, pool, databaseUrl);
  databases.watch(resolver);
  const ctx: AppContext = { env, log, pool, resolver, tokens, provisioningSteps: [], deprovisioningSteps: [], databases, ...limits, analytics: new AnalyticsForwarder(env, log) };
  if (env.STRIPE_SECRET_KEY) ctx.stripe = createStripeClient(env.STRIPE_SECRET_KEY, env.STRIPE_API_BASE);
  else log.info('STRIPE_SECRET_KEY is not set: billing is disabled (billing routes answer 503)');
  wireHasura(ctx);
  // After the Hasura source is gone (it connects to the database): the tenant's database.
  ctx.deprovisioningSteps.push((tenantId) => databases.dropFor(tenantId));
  return ctx;
}

/** The database tier's pools, as configured (also for operator commands). */
export function tenantDatabases(env: Env, log: Logger, pool: Pool, databaseUrl: string): TenantDatabases {
  return new TenantDatabases({
    mainUrl: databaseUrl,
    mainPool: pool,
    servers: env.TENANT_DATABASE_SERVERS,
    poolSize: env.TENANT_DB_POOL_SIZE,
    maxPools: env.TENANT_DB_POOLS_MAX,
    idleMs: env.TENANT_DB_POOL_IDLE_MS,
    log,
  });
}

export async function startServer(ctx: AppContext, port: number, host = '0.0.0.0'): Promise<RunningServer> {
  const app = createApp(ctx);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    ctx,
    server,
    url: `http://127.0.0.1:${actualPort}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await ctx.resolver.stop();
      await stopLimits(ctx);
      await ctx.databases.close();
      await ctx.analytics.close();
    },
  };
}
