// `npm start`: configuration, database (embedded unless DATABASE_URL), migrations,
// then the actions server on PORT. The port answers health probes from the
// first moment (live: 200, ready: 503 until everything below is done).
import { type Env } from './core/config.ts';
import { createLogger, type Logger } from './core/log.ts';
import { openDatabase, retryOnConnectionError } from './db/database.ts';
import { migrateUp } from './db/migrate.ts';
import { buildContext, listenWith, startServer } from './server.ts';
import { moveDeps } from './tenants/move/deps.ts';
import { resumeMoves } from './tenants/move/run.ts';
import { installJobQueue, startJobRunner } from './jobs/runner.ts';
import { bootFailed, configOrExit } from './lifecycle/process.ts';
import { bootHandler } from './http/health.ts';
import { Lifecycle } from './lifecycle/state.ts';
import { installProcessErrorHandlers, installSignalHandlers, type ShutdownTargets } from './lifecycle/shutdown.ts';

async function boot(env: Env, log: Logger, t: ShutdownTargets, stopping: () => boolean): Promise<void> {
  t.server = await listenWith(bootHandler(t.lifecycle), env.PORT);
  const db = await openDatabase(env, log);
  t.db = db;
  if (stopping()) return;
  // PostgreSQL may restart while we boot: each step is retried on a lost connection.
  const retry = { attempts: env.DB_BOOT_ATTEMPTS, maxDelayMs: env.DB_BOOT_MAX_DELAY_MS, log };
  const applied = await retryOnConnectionError(() => migrateUp(db.pool, { log: (m) => log.info(m) }), { ...retry, what: 'migrations' });
  await retryOnConnectionError(() => installJobQueue(db.pool, log), { ...retry, what: 'job queue' });
  log.info({ applied: applied.length }, 'migrations up to date');
  const ctx = await retryOnConnectionError(() => buildContext(env, log, db.pool, db.url), { ...retry, what: 'services' });
  ctx.lifecycle = t.lifecycle;
  t.ctx = ctx;
  if (stopping()) return;
  // Database-tier tenants' databases get the same migrations; one that fails is logged, not fatal.
  const tenantDbs = await ctx.databases.migrateAll((line) => log.info(line));
  const failed = tenantDbs.filter((x) => x.error !== undefined).map((x) => x.slug);
  if (tenantDbs.length) log[failed.length ? 'error' : 'info']({ tenants: tenantDbs.length, failed }, 'tenant databases migrated');
  if (stopping()) return;
  const running = await startServer(ctx, env.PORT, '0.0.0.0', { server: t.server });
  if (env.WORKER_ENABLED) t.worker = await retryOnConnectionError(() => startJobRunner(ctx), { ...retry, what: 'job runner' });
  else log.info('WORKER_ENABLED=false: no jobs run in this process (run `npm run worker` elsewhere)');
  if (stopping()) return;
  t.lifecycle.phase = 'serving';
  const port = new URL(running.url).port;
  log.info({ port }, `actions server listening on http://localhost:${port}`);
  // Tenant moves a stopped process left unfinished (a tenant may be frozen until its move ends); one runner each.
  resumeMoves(moveDeps(ctx)).then(
    (r) => {
      if (r.finished.length || r.failed.length)
        log[r.failed.length ? 'warn' : 'info']({ finished: r.finished.length, failed: r.failed }, 'unfinished tenant moves resumed');
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
}

function main(): void {
  const env = configOrExit();
  const log = createLogger(env.LOG_LEVEL);
  const targets: ShutdownTargets = { log, lifecycle: new Lifecycle('starting'), graceMs: env.SHUTDOWN_GRACE_MS };
  let stopping = false;
  const signals = installSignalHandlers(targets);
  const shutdown = (reason: string, code?: number) => {
    stopping = true;
    signals.shutdown(reason, code);
  };
  process.on('SIGTERM', () => (stopping = true));
  process.on('SIGINT', () => (stopping = true));
  installProcessErrorHandlers(log, (reason) => shutdown(reason, 1));
  boot(env, log, targets, () => stopping).catch(bootFailed(log, shutdown, 'boot'));
}

main();
