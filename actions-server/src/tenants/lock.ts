// One heavy operation per tenant at a time: a move, a hard delete and a
// template upgrade of the same tenant exclude each other. A PostgreSQL
// advisory lock keyed on the tenant (so it holds across processes and dies
// with the session that took it); the second operation does not wait, it is
// refused with 409 CONFLICT and can be retried when the first is done.
import { AppError } from '../core/errors.ts';
import type { QueryResult } from 'pg';
import type { Client, Pool } from '../db/tx.ts';

// Two-int advisory key space ('TLCK'); moves' runner and guard locks use their own.
const TENANT_LOCK = 1414284107;

export class TenantBusy extends AppError {
  constructor(operation: string) {
    super(
      'CONFLICT',
      `Cannot ${operation} now: a move, hard delete or template upgrade of this tenant is in progress; try again when it is done`,
    );
  }
}

/** Takes the tenant's lock for the session of this connection; false when another operation holds it. */
export async function lockTenantOn(client: Client, tenantId: string): Promise<boolean> {
  return (await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as ok', [TENANT_LOCK, tenantId])).rows[0]!.ok;
}

export async function unlockTenantOn(client: Client, tenantId: string): Promise<void> {
  await client.query('select pg_advisory_unlock($1, hashtext($2))', [TENANT_LOCK, tenantId]).catch(() => undefined);
}

/** Holds the tenant's lock on a connection of its own while fn runs; TenantBusy (409) when another operation holds it. */
export async function withTenantLock<T>(pool: Pool, tenantId: string, operation: string, fn: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let locked = false;
  try {
    locked = await lockTenantOn(client, tenantId);
    if (!locked) throw new TenantBusy(operation);
    return await fn();
  } finally {
    if (locked) await unlockTenantOn(client, tenantId);
    client.release();
  }
}

/**
 * The same lock for the rest of the caller's transaction; false when another
 * operation holds it. With `savepoint`, that savepoint is opened first, in the
 * same round trip (a batch of upgrades takes one per tenant).
 */
export async function tryTenantLockInTransaction(client: Client, tenantId: string, opts: { savepoint?: string } = {}): Promise<boolean> {
  const lock = `select pg_try_advisory_xact_lock(${TENANT_LOCK}, hashtext(${client.escapeLiteral(tenantId)})) as ok`;
  if (opts.savepoint === undefined) return (await client.query<{ ok: boolean }>(lock)).rows[0]!.ok;
  // A simple query of two statements answers with one result per statement.
  const results = (await client.query(`savepoint ${client.escapeIdentifier(opts.savepoint)};\n${lock}`)) as unknown as QueryResult<{
    ok: boolean;
  }>[];
  return results[1]!.rows[0]!.ok;
}
