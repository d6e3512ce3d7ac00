// Wires the services together; used by main.ts and by tests, so both run the
// same server.
import type { Server } from 'node:http';
import type { Env } from './config.ts';
import type { Logger } from './log.ts';
import type { Pool } from './db/tx.ts';
import { TenantResolver } from './domains/resolver.ts';
import { createTokenService } from './auth/tokens.ts';
import type { AppContext } from './http/context.ts';
import { createApp } from './http/app.ts';
import { createStripeClient } from './billing/stripe-client.ts';
import { wireHasura } from './hasura/wiring.ts';
import { buildLimits, stopLimits } from './limits/wiring.ts';

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
  const ctx: AppContext = { env, log, pool, resolver, tokens, provisioningSteps: [], deprovisioningSteps: [], ...limits };
  if (env.STRIPE_SECRET_KEY) ctx.stripe = createStripeClient(env.STRIPE_SECRET_KEY, env.STRIPE_API_BASE);
  else log.info('STRIPE_SECRET_KEY is not set: billing is disabled (billing routes answer 503)');
  wireHasura(ctx);
  return ctx;
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
    },
  };
}
