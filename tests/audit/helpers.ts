// Helpers shared by the audit and invitation suites: reading a tenant's trail
// as the owner, and acting as a request role in a transaction that is always
// rolled back (attacks must leave nothing behind either way).
import type { Client, Pool } from '../../actions-server/src/db/tx.ts';

export interface AuditRow {
  seq: number;
  actor_kind: string;
  actor_id: string | null;
  actor_role: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  old_values: Record<string, unknown> | null;
  new_values: Record<string, unknown> | null;
  ip: string | null;
  user_agent: string | null;
}

export async function auditRows(pool: Pool, tenantId: string): Promise<AuditRow[]> {
  const { rows } = await pool.query<AuditRow>(
    `select seq::int as seq, actor_kind, actor_id, actor_role, action, entity_type, entity_id,
            old_values, new_values, ip, user_agent
     from public.tenant_audit_entries where tenant_id = $1 order by seq`,
    [tenantId],
  );
  return rows;
}

/** Runs fn as `role` with the given settings set for the transaction only; always rolled back. */
export async function asRole<T>(
  pool: Pool,
  role: string,
  settings: Record<string, string>,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`set local role ${client.escapeIdentifier(role)}`);
    for (const [name, value] of Object.entries(settings)) {
      await client.query('select set_config($1, $2, true)', [name, value]);
    }
    return await fn(client);
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

/** The SQLSTATE a statement fails with (undefined when it succeeds). */
export async function sqlState(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? 'no-sqlstate';
  }
}

export function hasuraSession(tenantId: string, userId: string, role: string): Record<string, string> {
  return {
    'hasura.user': JSON.stringify({ 'x-hasura-role': role, 'x-hasura-user-id': userId, 'x-hasura-tenant-id': tenantId }),
  };
}
