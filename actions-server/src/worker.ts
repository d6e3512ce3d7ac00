// `npm run worker`: the job runner alone, for deployments that keep it apart
// from the HTTP servers (WORKER_ENABLED=false there).
import { loadConfig, ConfigError } from './core/config.ts';
import { createLogger } from './core/log.ts';
import { openDatabase } from './db/database.ts';
import { migrateUp } from './db/migrate.ts';
import { buildContext } from './server.ts';
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
  await migrateUp(db.pool, { log: (m) => log.info(m) });
  await installJobQueue(db.pool, log);
  const ctx = await buildContext(env, log, db.pool, db.url);
  const worker = await startJobRunner(ctx);
  const shutdown = async (signal: string) => {
    log.info({ signal }, 'worker stopping');
    await worker.stop();
    await ctx.resolver.stop();
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
