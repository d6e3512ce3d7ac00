// Shared by the portability suites: tenants with a little data in every table,
// and the row counts and checksums of a tenant's data wherever it lives.
import type { TestDb } from '../support/db.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import type { Isolation, TenantRow } from '../../actions-server/src/tenants/records.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { checksums, sideOf, tablesOf, withSidePool } from '../../actions-server/src/tenants/move/copy.ts';
import type { TableSum } from '../../actions-server/src/tenants/move/records.ts';
import type { Client } from '../../actions-server/src/db/tx.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';

export async function tenantRow(db: TestDb, slug: string): Promise<TenantRow | undefined> {
  return (await db.pool.query<TenantRow>('select * from public.tenants where slug = $1', [slug])).rows[0];
}

export function onData<T>(db: TestDb, tenant: TenantRow, userId: string | undefined, fn: (c: Client) => Promise<T>): Promise<T> {
  return withTenantData({ pool: db.pool, databases: db.databases }, tenantPlacementOf(tenant), userId, fn);
}

/** A tenant in `tier` with a second member and a few rows in every table (awkward text included). */
export async function seededTenant(
  db: TestDb,
  slug: string,
  tier: Isolation,
  memberEmail: string,
): Promise<MadeTenant & { memberId: string }> {
  const made = await makeTenant(db, slug, { isolation: tier, plan: 'pro' });
  const memberId = (
    await db.pool.query<{ id: string }>(
      `insert into public.identities (email, name) values ($1, 'Mem Ber') on conflict (email) do update set name = excluded.name returning id`,
      [memberEmail],
    )
  ).rows[0]!.id;
  await db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'member')`, [
    made.tenant.id,
    memberId,
  ]);
  await onData(db, made.tenant, made.ownerId, async (c) => {
    const m = (
      await c.query<{ id: string }>(`insert into members (identity_id, display_name, email) values ($1, 'Mem Ber', $2) returning id`, [
        memberId,
        memberEmail,
      ])
    ).rows[0]!.id;
    const ch = (await c.query<{ id: string }>(`insert into channels (name, created_by) values ('general', $1) returning id`, [m])).rows[0]!
      .id;
    await c.query(`insert into channels (name, is_private) values ('private', true)`);
    await c.query(
      `insert into messages (channel_id, member_id, body) select $1, $2, 'line ' || g || E'\\ttab\\nnewline \\\\ backslash "quote" é' from generate_series(1, 40) g`,
      [ch, m],
    );
    await c.query(
      `insert into files (channel_id, member_id, name, content_type, size_bytes) values ($1, $2, 'a.txt', 'text/plain', 1234), ($1, null, 'b.bin', null, 0)`,
      [ch, m],
    );
  });
  return { ...made, memberId };
}

/** Counts and checksums of every table of the tenant's data (as moves compare copies). */
export async function dataSums(db: TestDb, tenant: TenantRow): Promise<Record<string, TableSum>> {
  const side = sideOf(tenant.id, tenant);
  return withSidePool(db.pool, db.databases, side, async (pool) => checksums(pool, side, await tablesOf(pool, side)));
}
