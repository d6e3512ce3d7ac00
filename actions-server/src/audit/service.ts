// Reading the audit trail. Entries are written only by the _900_audit triggers
// (hasura/migrations/default/1763900003000_audit_invitations); reads run as
// `app` under RLS, so a tenant sees its own chain and nothing else.
import { z } from 'zod';
import { asApp, type Pool } from '../db/tx.ts';
import type { TenantActor } from '../core/actor.ts';

/** An ISO timestamp, or a plain date (midnight UTC), as people type them in a query string. */
const isoTimeOrDate = z.union([z.iso.datetime({ offset: true }), z.iso.date().transform((d) => `${d}T00:00:00Z`)]);

export const auditQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(200).default(50),
    // Entries older than this seq (the nextCursor of the previous page).
    cursor: z
      .string()
      .regex(/^[1-9]\d{0,17}$/, 'must be the nextCursor of a previous page')
      .optional(),
    // An exact action (tenant.suspended) or a prefix ending in * (membership.*).
    action: z
      .string()
      .max(100)
      .regex(/^[a-z][a-z0-9_.]*\*?$/, 'an action such as tenant.updated, or a prefix such as membership.*')
      .optional(),
    from: isoTimeOrDate.optional(),
    to: isoTimeOrDate.optional(),
  })
  .strict();
export type AuditQuery = z.infer<typeof auditQuerySchema>;

export interface AuditRow {
  /** bigint: node-pg keeps int8 exact as a string. */
  seq: string;
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
  created_at: Date;
  prev_hash: string | null;
  hash: string;
}

export interface AuditEntry {
  seq: number;
  action: string;
  entityType: string;
  entityId: string | null;
  actor: { kind: string; id: string | null; role: string | null };
  oldValues: Record<string, unknown> | null;
  newValues: Record<string, unknown> | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
  prevHash: string | null;
  hash: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

/** What every view of an entry shows: the action, its subject, who, the changed values and when. */
export const entryCore = (
  r: Pick<
    AuditRow,
    'action' | 'entity_type' | 'entity_id' | 'actor_kind' | 'actor_id' | 'actor_role' | 'old_values' | 'new_values' | 'created_at'
  >,
) => ({
  action: r.action,
  entityType: r.entity_type,
  entityId: r.entity_id,
  actor: { kind: r.actor_kind, id: r.actor_id, role: r.actor_role },
  oldValues: r.old_values,
  newValues: r.new_values,
  createdAt: r.created_at.toISOString(),
});

const toEntry = (r: AuditRow): AuditEntry => ({
  seq: Number(r.seq),
  ...entryCore(r),
  ip: r.ip,
  userAgent: r.user_agent,
  prevHash: r.prev_hash,
  hash: r.hash,
});

/** Newest first, `limit` per page; the caller has checked that the actor may read the trail. */
export async function listAuditLogs(pool: Pool, actor: TenantActor, query: AuditQuery): Promise<AuditPage> {
  const params: unknown[] = [actor.tenantId];
  const where = ['tenant_id = $1'];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (query.cursor !== undefined) add((n) => `seq < ${n}::bigint`, query.cursor);
  if (query.action?.endsWith('*')) add((n) => `starts_with(action, ${n})`, query.action.slice(0, -1));
  else if (query.action !== undefined) add((n) => `action = ${n}`, query.action);
  if (query.from !== undefined) add((n) => `created_at >= ${n}::timestamptz`, query.from);
  if (query.to !== undefined) add((n) => `created_at < ${n}::timestamptz`, query.to);
  params.push(query.limit + 1);

  const rows = await asApp(
    pool,
    actor,
    async (client) =>
      (
        await client.query<AuditRow>(
          `select seq, actor_kind, actor_id, actor_role, action, entity_type, entity_id, old_values,
                new_values, ip, user_agent, created_at, prev_hash, hash
         from public.tenant_audit_entries
         where ${where.join(' and ')}
         order by seq desc
         limit $${params.length}`,
          params,
        )
      ).rows,
  );
  const page = rows.slice(0, query.limit);
  return {
    entries: page.map(toEntry),
    nextCursor: rows.length > query.limit ? (page.at(-1)?.seq ?? null) : null,
  };
}

export const auditExportSchema = auditQuerySchema
  .omit({ limit: true, cursor: true })
  .extend({ format: z.enum(['csv', 'json']).default('csv') })
  .strict();
export type AuditExportQuery = z.infer<typeof auditExportSchema>;

/** Most entries one export carries; narrow the dates for more. */
export const AUDIT_EXPORT_MAX = 100_000;
const EXPORT_PAGE = 200;

const CSV_COLUMNS = [
  'seq',
  'createdAt',
  'action',
  'entityType',
  'entityId',
  'actorKind',
  'actorId',
  'actorRole',
  'ip',
  'userAgent',
  'oldValues',
  'newValues',
  'hash',
];

/** A quoted CSV cell; a leading = + - @ is defused so a spreadsheet does not run it as a formula. */
function csvCell(value: string | number | Record<string, unknown> | null): string {
  let text = value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return `"${text.replace(/"/g, '""')}"`;
}

function csvRow(e: AuditEntry): string {
  const cells = [
    e.seq,
    e.createdAt,
    e.action,
    e.entityType,
    e.entityId,
    e.actor.kind,
    e.actor.id,
    e.actor.role,
    e.ip,
    e.userAgent,
    e.oldValues,
    e.newValues,
    e.hash,
  ];
  return `${cells.map(csvCell).join(',')}\r\n`;
}

/**
 * The filtered trail, newest first, as chunks of CSV or of one JSON array,
 * read a page at a time (the caller has checked that the actor may read it).
 */
export async function* exportAuditLogs(pool: Pool, actor: TenantActor, query: AuditExportQuery): AsyncGenerator<string> {
  const { format, ...filters } = query;
  const read = (cursor: string | null) => listAuditLogs(pool, actor, { ...filters, limit: EXPORT_PAGE, ...(cursor ? { cursor } : {}) });
  // The first page is read before anything is yielded: a failure is still a clean error answer.
  let page = await read(null);
  yield format === 'csv' ? `${CSV_COLUMNS.join(',')}\r\n` : '[';
  let sent = 0;
  for (;;) {
    const entries = page.entries.slice(0, AUDIT_EXPORT_MAX - sent);
    if (format === 'csv') yield entries.map(csvRow).join('');
    else yield entries.map((e, i) => `${sent + i === 0 ? '' : ','}\n${JSON.stringify(e)}`).join('');
    sent += entries.length;
    if (!page.nextCursor || sent >= AUDIT_EXPORT_MAX) break;
    page = await read(page.nextCursor);
  }
  if (format === 'json') yield '\n]\n';
}

export interface ChainReport {
  ok: boolean;
  /** The first entry that does not check out (missing, relinked or altered). */
  brokenSeq: number | null;
  /** Entries verified before the break (all of them when ok). */
  checked: number;
  reason: string | null;
}

/** Recomputes the tenant's hash chain (public.verify_audit_chain). */
export async function verifyAuditChain(pool: Pool, actor: TenantActor): Promise<ChainReport> {
  const row = await asApp(
    pool,
    actor,
    async (client) =>
      (
        await client.query<{ ok: boolean; broken_seq: string | null; checked: string; reason: string | null }>(
          'select ok, broken_seq::text, checked::text, reason from public.verify_audit_chain($1)',
          [actor.tenantId],
        )
      ).rows[0],
  );
  if (!row) throw new Error('verify_audit_chain returned no row');
  return {
    ok: row.ok,
    brokenSeq: row.broken_seq === null ? null : Number(row.broken_seq),
    checked: Number(row.checked),
    reason: row.reason,
  };
}
