// `npm run worker`: the job runner alone, for deployments that keep it apart
// from the HTTP servers (WORKER_ENABLED=false there). Same boot retries and
// shutdown as the server: running jobs finish within SHUTDOWN_GRACE_MS or go
// back to the queue for another worker.
import { createLogger } from './core/log.ts';
import { openDatabase, retryOnConnectionError } from './db/database.ts';
import { migrateUp } from './db/migrate.ts';
import { buildContext } from './server.ts';
import { installJobQueue, startJobRunner } from './jobs/runner.ts';
import { Lifecycle } from './lifecycle/state.ts';
import { installProcessErrorHandlers, installSignalHandlers, type ShutdownTargets } from './lifecycle/shutdown.ts';
import { bootFailed, configOrExit } from './lifecycle/process.ts';

function main(): void {
  const env = configOrExit();
  const log = createLogger(env.LOG_LEVEL);
  const targets: ShutdownTargets = { log, lifecycle: new Lifecycle('starting'), graceMs: env.SHUTDOWN_GRACE_MS };
  const signals = installSignalHandlers(targets);
  installProcessErrorHandlers(log, (reason) => signals.shutdown(reason, 1));
  const retry = { attempts: env.DB_BOOT_ATTEMPTS, maxDelayMs: env.DB_BOOT_MAX_DELAY_MS, log };
  (async () => {
    const db = await openDatabase(env, log);
    targets.db = db;
    await retryOnConnectionError(() => migrateUp(db.pool, { log: (m) => log.info(m) }), { ...retry, what: 'migrations' });
    await retryOnConnectionError(() => installJobQueue(db.pool, log), { ...retry, what: 'job queue' });
    targets.ctx = await retryOnConnectionError(() => buildContext(env, log, db.pool, db.url), { ...retry, what: 'services' });
    targets.worker = await startJobRunner(targets.ctx);
    targets.lifecycle.phase = 'serving';
  })().catch(bootFailed(log, (reason, code) => signals.shutdown(reason, code), 'worker boot'));
}

main();
