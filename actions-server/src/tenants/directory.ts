// The platform's view of every tenant (platform administrators): a searchable,
// filterable, sortable list paged by keyset, and a plan set by hand (custom and
// manual contracts, no Stripe). Reads and writes run as the owner: they span
// tenants, and the caller was authorised as a platform operator first.
import { z } from 'zod';
import { AppError } from '../core/errors.ts';
import { asSystem, type Pool } from '../db/tx.ts';
import type { Actor } from '../core/actor.ts';
import { decodeCursor, encodeCursor } from '../core/cursor.ts';
import { toTenantView, type TenantRow, type TenantView } from './records.ts';
import { isolationSchema, planIdSchema } from './schemas.ts';

export const TENANT_STATUSES = ['trial', 'active', 'suspended', 'migrating', 'cancelled', 'archived'] as const;

/** Sort keys and the column each orders by (a fixed map: nothing from the query reaches the SQL text). */
const SORT_COLUMNS = {
  created: 'created_at',
  name: 'name',
  slug: 'slug',
  plan: 'plan',
  status: 'status',
} as const;
type SortKey = keyof typeof SORT_COLUMNS;
const SORT_KEYS = Object.keys(SORT_COLUMNS) as [SortKey, ...SortKey[]];

/** A keyset position: the sort column's value and the id of the last tenant of the previous page. */
const cursorSchema = z.tuple([z.string().max(300), z.uuid()]);

export const tenantListQuerySchema = z
  .object({
    // Part of the name, slug or custom domain, case-insensitive.
    q: z.string().trim().max(100).optional(),
    status: z.enum(TENANT_STATUSES).optional(),
    plan: planIdSchema.optional(),
    isolation: isolationSchema.optional(),
    sort: z.enum(SORT_KEYS).default('created'),
    order: z.enum(['asc', 'desc']).default('desc'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(600).optional(),
  })
  .strict();
export type TenantListQuery = z.infer<typeof tenantListQuerySchema>;

export interface TenantPage {
  tenants: TenantView[];
  /** Pass as `cursor` (with the same filters and sort) for the next page; null on the last page. */
  nextCursor: string | null;
}

const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, '\\$&')}%`;

export async function listTenants(pool: Pool, query: TenantListQuery): Promise<TenantPage> {
  const column = SORT_COLUMNS[query.sort];
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (query.q) add((n) => `(name ilike ${n} or slug ilike ${n} or custom_domain ilike ${n})`, likePattern(query.q));
  if (query.status) add((n) => `status = ${n}`, query.status);
  if (query.plan) add((n) => `plan = ${n}`, query.plan);
  if (query.isolation) add((n) => `isolation = ${n}`, query.isolation);
  // Text columns compare in byte order so the keyset agrees with the ordering whatever the collation.
  const key = column === 'created_at' ? '"created_at"' : `"${column}" collate "C"`;
  const cast = column === 'created_at' ? '::timestamptz' : '::text collate "C"';
  const dir = query.order === 'asc' ? 'asc' : 'desc';
  if (query.cursor !== undefined) {
    const [value, id] = decodeCursor(cursorSchema, query.cursor);
    params.push(value, id);
    where.push(`(${key}, "id") ${dir === 'asc' ? '>' : '<'} ($${params.length - 1}${cast}, $${params.length}::uuid)`);
  }
  params.push(query.limit + 1);
  const rows = await asSystem(
    pool,
    async (client) =>
      (
        await client.query<TenantRow & { sort_value: string }>(
          // sort_value: the key at full precision (timestamps in microseconds) for the cursor.
          `select *, "${column}"::text as sort_value from public.tenants
            ${where.length ? `where ${where.join(' and ')}` : ''}
            order by ${key} ${dir}, "id" ${dir}
            limit $${params.length}`,
          params,
        )
      ).rows,
  );
  const page = rows.slice(0, query.limit);
  const last = page.at(-1);
  return {
    tenants: page.map((row) => toTenantView(row)),
    nextCursor: rows.length > query.limit && last ? encodeCursor([last.sort_value, last.id]) : null,
  };
}

export const setPlanSchema = z.object({ plan: planIdSchema }).strict();

/** Puts a tenant on a plan without Stripe; the tenants audit trigger records the change and who made it. */
export async function setTenantPlan(pool: Pool, tenantId: string, plan: string, actor: Actor): Promise<TenantView> {
  return asSystem(
    pool,
    async (client) => {
      const known = await client.query('select 1 from public.plans where id = $1', [plan]);
      if (!known.rowCount)
        throw new AppError('VALIDATION_FAILED', `Unknown plan ${plan}`, { issues: [{ path: 'plan', message: 'unknown plan' }] });
      const row = (await client.query<TenantRow>('update public.tenants set plan = $2 where id = $1 returning *', [tenantId, plan]))
        .rows[0];
      if (!row) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
      return toTenantView(row);
    },
    actor,
  );
}
