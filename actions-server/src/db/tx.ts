// Every unit of work is one transaction. Work on behalf of a tenant switches to
// a role subject to row-level security and sets the tenant for that transaction
// only (SET LOCAL), so nothing leaks to the next user of a pooled connection.
import pg from 'pg';
import type { Actor, TenantActor } from '../core/actor.ts';
import { isConnectionError } from '../core/errors.ts';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

export interface TenantScope extends Actor {
  tenantId: string;
  /** Database role to act as: `app` for registry work, or the tenant's own role. */
  dbRole: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/** Limits every request transaction on a pool gets (milliseconds; 0 = off). */
export interface TransactionLimits {
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

// The SET LOCAL statements of each pool that has limits, sent in one round trip with BEGIN.
const POOL_LIMITS = new WeakMap<Pool, string>();

/**
 * Gives every transaction on `pool` (withTransaction, asTenant, asSystem) these
 * limits, as SET LOCAL so they end with the transaction. The server sets them on
 * its own pools; pools of operator commands and migrations have none.
 */
export function setTransactionLimits(pool: Pool, limits: TransactionLimits): void {
  const ms = (n: number) => `'${Math.max(0, Math.floor(n))}ms'`;
  POOL_LIMITS.set(
    pool,
    [
      `set local statement_timeout = ${ms(limits.statementTimeoutMs)}`,
      `set local lock_timeout = ${ms(limits.lockTimeoutMs)}`,
      `set local idle_in_transaction_session_timeout = ${ms(limits.idleInTransactionTimeoutMs)}`,
    ].join('; '),
  );
}

export interface TransactionOptions {
  /** The BEGIN statement: may name an isolation level (moves read one consistent snapshot). */
  begin?: string;
  /** false: long maintenance work (copies, migrations) runs without the pool's request limits. */
  limits?: boolean;
  /** SET LOCAL statements sent with BEGIN, in the same round trip (the role, tenant and actor of asTenant and asSystem). */
  prelude?: (client: Client) => string;
}

/**
 * One transaction on one pooled connection. While the connection is held an
 * error listener is attached: if its backend dies (terminated, failover,
 * network cut, timeout) the work fails with that error (mapped to 503
 * DATABASE_UNAVAILABLE for requests) and the connection is destroyed, never
 * returned to the pool.
 */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: Client) => Promise<T>,
  options: string | TransactionOptions = {},
): Promise<T> {
  const opts = typeof options === 'string' ? { begin: options } : options;
  const limits = opts.limits === false ? undefined : POOL_LIMITS.get(pool);
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error) => {
    broken ??= err;
  };
  client.on('error', onError);
  try {
    await client.query([opts.begin ?? 'begin', limits, opts.prelude?.(client)].filter(Boolean).join('; '));
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    if (isConnectionError(err)) broken ??= err as Error;
    if (!broken) {
      await client.query('rollback').catch((e: Error) => {
        broken ??= e;
      });
    }
    throw err;
  } finally {
    client.off('error', onError);
    // A truthy argument makes the pool destroy the connection instead of reusing it.
    client.release(broken);
  }
}

function actorStatements(client: Client, info: Actor): string[] {
  if (info.userId !== undefined && !isUuid(info.userId)) throw new Error('user id must be a uuid');
  return [
    `set local app.user_id = ${client.escapeLiteral(info.userId ?? '')}`,
    `set local app.actor = ${client.escapeLiteral(info.kind ?? (info.userId ? 'user' : 'system'))}`,
    `set local app.ip = ${client.escapeLiteral((info.ip ?? '').slice(0, 64))}`,
    `set local app.user_agent = ${client.escapeLiteral((info.userAgent ?? '').slice(0, 512))}`,
  ];
}

/** Statements that put a transaction under a tenant's scope. Values are validated, then escaped by the driver. */
export function scopeStatements(client: Client, scope: TenantScope): string {
  if (!isUuid(scope.tenantId)) throw new Error('tenant id must be a uuid');
  // SET LOCAL (rather than set_config) because Citus forwards it to its workers.
  return [
    `set local role ${client.escapeIdentifier(scope.dbRole)}`,
    `set local app.tenant_id = ${client.escapeLiteral(scope.tenantId)}`,
    ...actorStatements(client, scope),
  ].join('; ');
}

/** Runs fn in one transaction as `scope.dbRole` with app.tenant_id / app.user_id set for that transaction. */
export function asTenant<T>(pool: Pool, scope: TenantScope, fn: (client: Client) => Promise<T>): Promise<T> {
  return withTransaction(pool, fn, { prelude: (client) => scopeStatements(client, scope) });
}

/** Runs fn in one transaction as `app` under RLS, on behalf of an identity in its tenant. */
export function asApp<T>(pool: Pool, actor: TenantActor, fn: (client: Client) => Promise<T>): Promise<T> {
  return asTenant(pool, { ...actor, dbRole: 'app' }, fn);
}

/**
 * Platform work that spans tenants (resolution, provisioning, webhooks, cron)
 * runs as the migration owner; `actor` says on whose behalf, for the audit trail.
 */
export function asSystem<T>(pool: Pool, fn: (client: Client) => Promise<T>, actor: Actor = {}): Promise<T> {
  return withTransaction(pool, fn, { prelude: (client) => actorStatements(client, actor).join('; ') });
}
