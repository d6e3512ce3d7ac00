// Graceful shutdown and process-level failures.
//
// On SIGTERM/SIGINT: stop taking work (new requests get 503 + Connection:
// close; the listener closes once the work in flight is done), let requests in flight finish and
// running jobs end (both bounded by SHUTDOWN_GRACE_MS), flush the API-call
// counts, close the LISTEN client, Redis and every pool, exit 0. A second
// signal exits at once. Exit 1 when the grace period ran out with work cut.
import type { Server } from 'node:http';
import net from 'node:net';
import type { AppContext } from '../core/context.ts';
import type { Logger } from '../core/log.ts';
import { isConnectionError } from '../core/errors.ts';
import type { Database } from '../db/database.ts';
import type { JobRunner } from '../jobs/runner.ts';
import { stopLimits } from '../limits/wiring.ts';
import type { Lifecycle } from './state.ts';

/** What exists so far: boot fills this in step by step, so a signal during boot closes only what was opened. */
export interface ShutdownTargets {
  log: Logger;
  lifecycle: Lifecycle;
  graceMs: number;
  server?: Server;
  worker?: JobRunner;
  ctx?: AppContext;
  db?: Database;
}

/** How long a drained server still waits for requests already sent on open connections. */
const SETTLE_MS = 250;

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

async function step(log: Logger, what: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    log.warn({ err: (err as Error).message }, `shutdown: ${what} failed`);
  }
}

/** Runs the shutdown sequence; resolves to the exit code. */
export async function gracefulShutdown(t: ShutdownTargets, reason: string): Promise<number> {
  const { log, lifecycle } = t;
  const started = Date.now();
  const remaining = () => Math.max(0, t.graceMs - (Date.now() - started));
  lifecycle.drain();
  log.info({ reason, inFlight: lifecycle.inFlightCount, graceMs: t.graceMs }, 'shutting down: no new requests; finishing those in flight');
  // New requests get 503 + Connection: close from now on, but the listener
  // stays open until the work in flight is done: closing it now would reset
  // connections the kernel already accepted (their clients would get no
  // answer at all), and http.Server#close would also drop connections whose
  // request has arrived but is not parsed yet.
  const [drained] = await Promise.all([
    lifecycle.idle(remaining()).then(async (idle) => {
      if (!idle) return false;
      // Requests already on the wire get parsed (and answered 503) before the listener closes.
      await new Promise((r) => setTimeout(r, Math.min(SETTLE_MS, remaining())));
      return lifecycle.idle(remaining());
    }),
    t.worker ? step(log, 'stopping the job runner', () => t.worker!.stop(remaining())) : Promise.resolve(),
  ]);
  const listenerClosed = new Promise<void>((resolve) =>
    t.server ? net.Server.prototype.close.call(t.server, () => resolve()) : resolve(),
  );
  if (!drained) {
    log.warn({ inFlight: lifecycle.inFlightCount }, 'grace period over: closing connections of requests still in flight');
  }
  t.server?.closeAllConnections();
  lifecycle.phase = 'stopped';
  const ctx = t.ctx;
  if (ctx) {
    await step(
      log,
      'closing the tenant and access change listeners',
      async () => void (await Promise.all([ctx.resolver.stop(), ctx.access.stop()])),
    );
    // Flushes the API-call counts still in memory, then closes Redis.
    await step(log, 'flushing API-call counts', () => stopLimits(ctx));
    await step(log, 'closing tenant database pools', () => ctx.databases.close());
  }
  if (t.db) await step(log, 'closing the database pool', () => t.db!.close());
  await Promise.race([listenerClosed, new Promise((r) => setTimeout(r, 1_000))]);
  log.info({ ms: Date.now() - started, drained }, 'shut down');
  return drained ? 0 : 1;
}

/**
 * SIGTERM/SIGINT start the graceful shutdown once; a second signal exits at
 * once (128 + signal number). `exit` is process.exit (injected for tests).
 */
export function installSignalHandlers(
  targets: ShutdownTargets,
  exit: (code: number) => never = (code) => process.exit(code),
): { shutdown(reason: string, code?: number): void } {
  let stopping = false;
  const shutdown = (reason: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    gracefulShutdown(targets, reason).then(
      (c) => exit(Math.max(c, code)),
      (err: unknown) => {
        targets.log.error({ err: describe(err) }, 'shutdown failed');
        exit(1);
      },
    );
  };
  for (const signal of Object.keys(SIGNAL_NUMBERS)) {
    process.on(signal, () => {
      if (stopping) {
        targets.log.warn({ signal }, 'second signal: exiting at once');
        exit(128 + (SIGNAL_NUMBERS[signal] ?? 0));
      }
      shutdown(signal);
    });
  }
  return { shutdown };
}

function describe(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { type: err.name, message: err.message, stack: err.stack, code: (err as { code?: unknown }).code };
  return { value: String(err) };
}

/**
 * Process-level failures, logged with their stack:
 *  - an unhandled promise rejection is not fatal: it unwound through async
 *    code like any caught error, so only the work it belonged to failed;
 *  - an uncaught exception that is a database or network connection error
 *    (an `error` event of a socket or client nobody listened to) is survived:
 *    that connection is dead and its pool discards it;
 *  - any other uncaught exception leaves the process in an unknown state: it
 *    is logged as fatal and the graceful shutdown runs, exiting 1.
 */
export function installProcessErrorHandlers(log: Logger, fatal: (reason: string) => void): void {
  process.on('unhandledRejection', (reason) => {
    log.error({ err: describe(reason) }, 'unhandled promise rejection (not fatal)');
  });
  process.on('uncaughtException', (err) => {
    if (isConnectionError(err)) {
      log.error({ err: describe(err) }, 'uncaught connection error (survived: the connection is discarded)');
      return;
    }
    log.fatal({ err: describe(err) }, 'uncaught exception: process state unknown, shutting down');
    fatal('uncaught exception');
  });
}
