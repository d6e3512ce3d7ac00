// `npm start`: configuration, database (embedded unless DATABASE_URL), migrations,
// then the actions server on PORT.
import { loadConfig, ConfigError } from './core/config.ts';
import { createLogger } from './core/log.ts';
import { openDatabase } from './db/database.ts';
import { migrateUp } from './db/migrate.ts';
import { buildContext, startServer } from './server.ts';
import { moveDeps, resumeMoves } from './tenants/move/service.ts';
import { installJobQueue, startJobRunner } from './jobs/runner.ts';
import { DeploymentMismatchError } from './db/deployment.ts';

async function main(): Promise<void> {
  let env;
  try {
    env = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(env.LOG_LEVEL);
  const db = await openDatabase(env, log);
  const applied = await migrateUp(db.pool, { log: (m) => log.info(m) });
  await installJobQueue(db.pool, log);
  log.info({ applied: applied.length }, 'migrations up to date');
  const ctx = await buildContext(env, log, db.pool, db.url);
  // Database-tier tenants' databases get the same migrations; one that fails is logged, not fatal.
  const tenantDbs = await ctx.databases.migrateAll((line) => log.info(line));
  const failed = tenantDbs.filter((t) => t.error !== undefined).map((t) => t.slug);
  if (tenantDbs.length) log[failed.length ? 'error' : 'info']({ tenants: tenantDbs.length, failed }, 'tenant databases migrated');
  const running = await startServer(ctx, env.PORT);
  const worker = env.WORKER_ENABLED ? await startJobRunner(ctx) : undefined;
  if (!worker) log.info('WORKER_ENABLED=false: no jobs run in this process (run `npm run worker` elsewhere)');
  const port = new URL(running.url).port;
  log.info({ port }, `actions server listening on http://localhost:${port}`);
  // Tenant moves a stopped process left unfinished (a tenant may be frozen until its move ends); one runner each.
  resumeMoves(moveDeps(ctx)).then(
    (r) => {
      if (r.finished.length || r.failed.length) log[r.failed.length ? 'warn' : 'info']({ finished: r.finished.length, failed: r.failed }, 'unfinished tenant moves resumed');
    },
    (err: Error) => log.error({ err: err.message }, 'could not resume unfinished tenant moves'),
  );
  if (process.stdout.isTTY || env.NODE_ENV === 'development') {
    console.log(`
Create your first tenant:
  curl -X POST http://localhost:${port}/api/tenants/create -H 'Content-Type: application/json' \\
    -d '{"name":"Acme Corp","slug":"acme","ownerEmail":"admin@acme.com","ownerName":"John Doe","ownerPassword":"securepass123","plan":"free"}'
Then:
  curl -H 'Host: acme.localhost:${port}' http://localhost:${port}/api/health
`);
  }
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'shutting down');
    await worker?.stop();
    await running.close();
    await db.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof DeploymentMismatchError) {
    console.error(err.message);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});
