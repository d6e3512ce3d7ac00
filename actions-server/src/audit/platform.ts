// The platform's audit trail (platform administrators): platform-level changes
// (public.platform_audit_logs: plans) and every tenant's entries
// (public.tenant_audit_logs), newest first in one list. Personal values
// (addresses, names, user agents) live beside tenant entries and are left out:
// a tenant's own trail (GET /api/tenants/:id/audit) shows them to its admins.
// Both tables are closed to `app`, so this reads as the owner after the caller
// was authorised as a platform operator.
import { z } from 'zod';
import { asSystem, type Pool } from '../db/tx.ts';
import { decodeCursor, encodeCursor } from '../core/cursor.ts';
import { auditQuerySchema, entryCore, type AuditEntry, type AuditRow } from './service.ts';

export const platformAuditQuerySchema = auditQuerySchema
  .extend({
    // `platform`: plan changes and other platform-level entries; `tenants`: tenants' entries.
    source: z.enum(['all', 'platform', 'tenants']).default('all'),
    tenantId: z.uuid().optional(),
    cursor: z.string().max(300).optional(),
  })
  .strict();
export type PlatformAuditQuery = z.infer<typeof platformAuditQuerySchema>;

/** A tenant trail's entry without its personal values and chain links, or a platform entry, told apart by `source`. */
export type PlatformAuditEntry = Omit<AuditEntry, 'seq' | 'ip' | 'userAgent' | 'prevHash' | 'hash'> & {
  source: 'platform' | 'tenant';
  /** The tenant of a tenant entry, and its slug while it exists. */
  tenantId: string | null;
  tenantSlug: string | null;
  /** Within its source (a tenant's seq, or the platform log's id), exact. */
  seq: string;
};

export interface PlatformAuditPage {
  entries: PlatformAuditEntry[];
  /** Pass as `cursor` (with the same filters) for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** A keyset position: the last entry's time at full precision, source, tenant and seq. */
const cursorSchema = z.tuple([z.string().max(64), z.enum(['platform', 'tenant']), z.string().max(36), z.string().regex(/^\d{1,18}$/)]);
type Row = Omit<AuditRow, 'ip' | 'user_agent' | 'prev_hash' | 'hash'> & {
  source: 'platform' | 'tenant';
  tenant_id: string | null;
  tenant_key: string;
  slug: string | null;
  created_key: string;
};

export async function listPlatformAudit(pool: Pool, query: PlatformAuditQuery): Promise<PlatformAuditPage> {
  const params: unknown[] = [];
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };
  // Filters both sources share, with the column's table alias; each branch applies them so each can use its created_at index.
  const shared: ((t: string) => string)[] = [];
  if (query.action?.endsWith('*')) {
    const prefix = param(query.action.slice(0, -1));
    shared.push((t) => `starts_with(${t}.action, ${prefix})`);
  } else if (query.action !== undefined) {
    const action = param(query.action);
    shared.push((t) => `${t}.action = ${action}`);
  }
  if (query.from !== undefined) {
    const from = param(query.from);
    shared.push((t) => `${t}.created_at >= ${from}::timestamptz`);
  }
  if (query.to !== undefined) {
    const to = param(query.to);
    shared.push((t) => `${t}.created_at < ${to}::timestamptz`);
  }
  const cursor = query.cursor === undefined ? undefined : decodeCursor(cursorSchema, query.cursor);
  let after = '';
  if (cursor) {
    const [at, source, tenantKey, seq] = [param(cursor[0]), param(cursor[1]), param(cursor[2]), param(cursor[3])];
    shared.push((t) => `${t}.created_at <= ${at}::timestamptz`);
    after = `where (created_at, source, tenant_key, seq) < (${at}::timestamptz, ${source}, ${tenantKey}, ${seq}::bigint)`;
  }
  const where = (conds: string[]) => (conds.length ? `where ${conds.join(' and ')}` : '');
  const branches: string[] = [];
  if (query.source !== 'tenants' && query.tenantId === undefined) {
    branches.push(`select 'platform' as source, null::uuid as tenant_id, '' as tenant_key, null::text as slug, p.id as seq,
                          p.actor_kind, p.actor_id, null::text as actor_role, p.action, p.entity_type, p.entity_id,
                          p.old_values, p.new_values, p.created_at
                     from public.platform_audit_logs p
                    ${where(shared.map((f) => f('p')))}`);
  }
  if (query.source !== 'platform') {
    const tenantConds = shared.map((f) => f('l'));
    if (query.tenantId !== undefined) tenantConds.push(`l.tenant_id = ${param(query.tenantId)}::uuid`);
    branches.push(`select 'tenant' as source, l.tenant_id, l.tenant_id::text as tenant_key, t.slug, l.seq,
                          l.actor_kind, l.actor_id, l.actor_role, l.action, l.entity_type, l.entity_id,
                          l.old_values, l.new_values, l.created_at
                     from public.tenant_audit_logs l
                     left join public.tenants t on t.id = l.tenant_id
                    ${where(tenantConds)}`);
  }
  if (branches.length === 0) return { entries: [], nextCursor: null };
  const limit = param(query.limit + 1);
  const rows = await asSystem(
    pool,
    async (client) =>
      (
        await client.query<Row>(
          `select e.*, e.created_at::text as created_key from (${branches.join(' union all ')}) e
            ${after}
            order by created_at desc, source desc, tenant_key desc, seq desc
            limit ${limit}`,
          params,
        )
      ).rows,
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    entries: page.map((r) => ({
      source: r.source,
      tenantId: r.tenant_id,
      tenantSlug: r.slug,
      seq: r.seq,
      ...entryCore(r),
    })),
    nextCursor: rows.length > query.limit && last ? encodeCursor([last.created_key, last.source, last.tenant_key, last.seq]) : null,
  };
}
