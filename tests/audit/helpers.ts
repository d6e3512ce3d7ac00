// Helpers shared by the audit and invitation suites: reading a tenant's trail
// as the owner, and the SQLSTATE an attempt fails with.
import type { Pool } from '../../actions-server/src/db/tx.ts';

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

/** The SQLSTATE a statement fails with (undefined when it succeeds). */
export async function sqlState(work: Promise<unknown>): Promise<string | undefined> {
  try {
    await work;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? 'no-sqlstate';
  }
}
