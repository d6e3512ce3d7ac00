// Every unit of work is one transaction. Work on behalf of a tenant switches to
// a role subject to row-level security and sets the tenant for that transaction
// only (SET LOCAL), so nothing leaks to the next user of a pooled connection.
import pg from 'pg';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

/** Who is acting, for the audit trail (read by triggers as app.actor / app.ip / app.user_agent). */
export interface ActorInfo {
  /** 'user' (with userId), or a system actor: 'stripe', 'cron', 'system', 'cli'. */
  actor?: string | undefined;
  userId?: string | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface TenantScope extends ActorInfo {
  tenantId: string;
  /** Database role to act as: `app` for registry work, or the tenant's own role. */
  dbRole: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

/** `begin` may name an isolation level (moves read one consistent snapshot). */
export async function withTransaction<T>(
  pool: Pool,
  fn: (client: Client) => Promise<T>,
  begin = 'begin',
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

function actorStatements(client: Client, info: ActorInfo): string[] {
  if (info.userId !== undefined && !isUuid(info.userId)) throw new Error('user id must be a uuid');
  return [
    `set local app.user_id = ${client.escapeLiteral(info.userId ?? '')}`,
    `set local app.actor = ${client.escapeLiteral(info.actor ?? (info.userId ? 'user' : 'system'))}`,
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
  return withTransaction(pool, async (client) => {
    await client.query(scopeStatements(client, scope));
    return fn(client);
  });
}

/**
 * Platform work that spans tenants (resolution, provisioning, webhooks, cron)
 * runs as the migration owner; `actor` says on whose behalf, for the audit trail.
 */
export function asSystem<T>(pool: Pool, fn: (client: Client) => Promise<T>, actor: ActorInfo = {}): Promise<T> {
  return withTransaction(pool, async (client) => {
    await client.query(actorStatements(client, actor).join('; '));
    return fn(client);
  });
}
