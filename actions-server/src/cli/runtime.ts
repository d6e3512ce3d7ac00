// What every operator command shares: the server's own configuration and
// context (so the CLI provisions, deletes and moves exactly as the server does),
// usage errors that exit 2, and progress output.
import { InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { ConfigError, loadConfig, type Env } from '../core/config.ts';
import type { Actor } from '../core/actor.ts';
import type { AppContext } from '../core/context.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { openDatabase, type Database } from '../db/database.ts';
import { buildContext, closeContext, tenantDatabases } from '../server.ts';
import type { TenantDatabases } from '../tenants/databases.ts';
import { DeploymentMismatchError } from '../db/deployment.ts';

/** Every command acts as the operator: the audit trail records 'cli'. */
export const cliActor: Actor = { kind: 'cli' };

/** Bad input on the command line: printed with its reason, exit 2, nothing changed. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface CliRuntime {
  env: Env;
  db: Database;
  ctx: AppContext;
}

export function cliConfig(): Env {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export interface CliDatabase {
  env: Env;
  log: Logger;
  db: Database;
  /** Database-tier tenants' databases, for commands that act on every database. */
  databases: TenantDatabases;
}

/** Opens only the database (migrations and schema commands run before the server's context can exist). */
export async function withDatabase<T>(fn: (rt: CliDatabase) => Promise<T>): Promise<T> {
  const env = cliConfig();
  // Operators read the command's own output; the server's info lines would drown it.
  const log = createLogger(env.LOG_LEVEL === 'info' ? 'warn' : env.LOG_LEVEL);
  const db = await openDatabase(env, log);
  const databases = tenantDatabases(env, log, db.pool, db.url);
  try {
    return await fn({ env, log, db, databases });
  } finally {
    await databases.close();
    await db.close();
  }
}

/** Opens the database and the server's context for one command, and closes both after it. */
export async function withRuntime<T>(fn: (rt: CliRuntime) => Promise<T>): Promise<T> {
  return withDatabase(async ({ env, log, db }) => {
    const ctx = await buildContext(env, log, db.pool, db.url).catch((err: unknown) => {
      throw err instanceof DeploymentMismatchError ? new UsageError(err.message) : err;
    });
    try {
      return await fn({ env, db, ctx });
    } finally {
      await closeContext(ctx);
    }
  });
}

/** A commander argument parser for a whole number within bounds. */
export function intArg(min: number, max: number): (value: string) => number {
  return (value) => {
    if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return n;
  };
}

/** A commander argument parser for one of a fixed set of words. */
export function choiceArg<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}`);
    return value as T;
  };
}

/** Progress of a long run: a bar on a terminal, otherwise a line at every 10%. */
export function progressReporter(label: string): { update(done: number, total: number, item?: string): void; stop(): void } {
  const bar = process.stdout.isTTY
    ? new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} {item}` }, cliProgress.Presets.shades_classic)
    : undefined;
  let started = false;
  let lastDecile = -1;
  return {
    update(done, total, item = '') {
      if (bar) {
        if (!started) bar.start(total, 0, { item });
        started = true;
        bar.update(done, { item });
        return;
      }
      const decile = total === 0 ? 10 : Math.floor((done * 10) / total);
      if (decile !== lastDecile) {
        lastDecile = decile;
        console.log(`${label}: ${done}/${total}`);
      }
    },
    stop() {
      bar?.stop();
    },
  };
}

/** The tenant id of a slug, or a usage error naming it. */
export async function tenantIdOf(rt: CliRuntime, slug: string): Promise<string> {
  const { rows } = await rt.db.pool.query<{ id: string }>('select id from public.tenants where slug = $1', [slug]);
  if (!rows[0]) throw new UsageError(`no tenant with slug ${slug}`);
  return rows[0].id;
}

/** withRuntime for a command on one tenant: `fn` gets the id of the tenant `slug` names. */
export function withTenant<T>(slug: string, fn: (rt: CliRuntime, tenantId: string) => Promise<T>): Promise<T> {
  return withRuntime(async (rt) => fn(rt, await tenantIdOf(rt, slug)));
}

/** A command's answer as indented JSON on stdout. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
