// What the server and the worker processes share at start: configuration that
// exits 2 with every problem listed, and how a failed boot ends the process.
import { ConfigError, loadConfig, type Env } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { DeploymentMismatchError } from '../db/deployment.ts';

export function configOrExit(): Env {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
}

/** A process configured apart from its deployment exits 2 with the reason; any other boot failure exits 1. */
export function bootFailed(log: Logger, shutdown: (reason: string, code: number) => void, what: string): (err: unknown) => void {
  return (err) => {
    if (err instanceof DeploymentMismatchError) {
      log.fatal(err.message);
      shutdown('deployment settings differ', 2);
      return;
    }
    log.fatal({ err }, `${what} failed`);
    shutdown(`${what} failed`, 1);
  };
}
