// A person's rights: an export of everything held about them, and erasure.
// Erasing a person:
//   - in each tenant they belong to (whatever its tier), the rows they
//     authored are deleted or kept per ERASE_AUTHORED_ROWS, and their member
//     row is pseudonymised (name replaced, e-mail and person link cleared), so
//     kept rows still point at a row that names nobody;
//   - invitations to their address are deleted, their memberships end (which
//     ends every session: each request re-reads the membership), and each of
//     their tenants' audit trails gets an `identity.erased` entry;
//   - their identity row is kept for the ids that refer to it, with the e-mail
//     replaced, the name and password hash cleared and erased_at set;
//   - the personal part of audit entries about them (their ip and user agent
//     as an actor, their address in changed values) is deleted. Audit rows
//     themselves are never rewritten: they hash only a digest of that part, so
//     every chain still verifies.
// The sole owner of a tenant is refused (transfer ownership first), before
// anything changes. Erasure is idempotent: a rerun finishes an interrupted one.
import pg from 'pg';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { asSystem, type Client } from '../db/tx.ts';
import type { Actor } from '../core/actor.ts';
import { accessChanged } from '../auth/access.ts';
import { POOLED_SCHEMA, withTenantData } from '../tenants/data.ts';
import type { TenantRow } from '../tenants/records.ts';

const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);

/** Columns of a tenant table that name the member who wrote a row. */
const AUTHOR_COLUMNS = ['member_id', 'created_by'];

export const ERASED_NAME = 'Erased member';
const erasedEmail = (id: string) => `erased-${id}@erased.invalid`;

type Ctx = Pick<AppContext, 'pool' | 'databases' | 'env'>;

interface Identity {
  id: string;
  email: string;
  name: string | null;
  created_at: Date;
  erased_at: Date | null;
}

async function identityOf(ctx: Ctx, id: string): Promise<Identity> {
  const row = (await ctx.pool.query<Identity>('select id, email, name, created_at, erased_at from public.identities where id = $1', [id]))
    .rows[0];
  if (!row) throw new AppError('NOT_FOUND', 'No such person');
  return row;
}

async function tenantsOf(ctx: Ctx, identityId: string): Promise<(TenantRow & { role: string })[]> {
  return (
    await ctx.pool.query<TenantRow & { role: string }>(
      `select t.*, m.role from public.memberships m join public.tenants t on t.id = m.tenant_id where m.identity_id = $1 order by t.slug`,
      [identityId],
    )
  ).rows;
}

const dataSchema = (t: TenantRow) => (t.isolation === 'pooled' ? POOLED_SCHEMA : t.schema_name!);

/** Tables of the tenant's placement with an author column (as the tenant sees them). */
async function authoredTables(c: Client, schema: string): Promise<{ table: string; column: string }[]> {
  const { rows } = await c.query<{ table: string; column: string }>(
    `select c.relname as table, a.attname as column
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
       join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname = $1 and c.relkind in ('r', 'p') and a.attname = any($2::text[])
      order by c.relname, a.attname`,
    [schema, AUTHOR_COLUMNS],
  );
  return rows;
}

async function memberIds(c: Client, identity: Identity): Promise<string[]> {
  const { rows } = await c.query<{ id: string }>(
    'select id::text from members where identity_id = $1 or (email is not null and email = $2)',
    [identity.id, identity.email],
  );
  return rows.map((r) => r.id);
}

export interface PersonExport {
  identity: { id: string; email: string; name: string | null; createdAt: string };
  tenants: { id: string; slug: string; name: string; role: string; member: unknown[]; authored: Record<string, unknown[]> }[];
  invitations: unknown[];
  auditEntries: unknown[];
}

/** Everything held about a person: identity, memberships and, per tenant, their member rows and the rows they wrote. */
export async function exportPerson(ctx: Ctx, identityId: string): Promise<PersonExport> {
  const identity = await identityOf(ctx, identityId);
  if (identity.erased_at) throw new AppError('TENANT_GONE', 'This person has been erased');
  const tenants: PersonExport['tenants'] = [];
  for (const t of await tenantsOf(ctx, identityId)) {
    const data = await withTenantData(ctx, t, identityId, async (c) => {
      const ids = await memberIds(c, identity);
      const member = (await c.query('select * from members where id = any($1::uuid[])', [ids])).rows;
      const authored: Record<string, unknown[]> = {};
      for (const { table, column } of await authoredTables(c, dataSchema(t))) {
        const { rows } = await c.query(`select * from ${ident(table)} where ${ident(column)} = any($1::uuid[]) order by 1`, [ids]);
        authored[table] = [...(authored[table] ?? []), ...(rows as unknown[])];
      }
      return { member, authored };
    });
    tenants.push({ id: t.id, slug: t.slug, name: t.name, role: t.role, ...data });
  }
  const invitations = (
    await ctx.pool.query(
      `select tenant_id, id, role, created_at, expires_at, accepted_at, revoked_at from public.tenant_invitations where email = $1 order by created_at`,
      [identity.email],
    )
  ).rows;
  const auditEntries = (
    await ctx.pool.query(
      `select p.tenant_id, p.seq, l.action, l.created_at, p.data from public.tenant_audit_personal p
         join public.tenant_audit_logs l on l.tenant_id = p.tenant_id and l.seq = p.seq
        where $1 = any(p.subject_ids) or $2 = any(p.emails) order by l.created_at`,
      [identity.id, identity.email],
    )
  ).rows;
  return {
    identity: { id: identity.id, email: identity.email, name: identity.name, createdAt: identity.created_at.toISOString() },
    tenants,
    invitations,
    auditEntries,
  };
}

/** ERASE_AUTHORED_ROWS: table → delete | keep (tables not named: keep). */
export function erasePolicy(setting: string): Map<string, 'delete' | 'keep'> {
  return new Map(
    setting
      .split(',')
      .filter(Boolean)
      .map((pair) => pair.split('=') as [string, 'delete' | 'keep']),
  );
}

export interface EraseReport {
  identityId: string;
  tenants: { slug: string; deleted: Record<string, number>; pseudonymised: number }[];
  auditPersonalRemoved: number;
  alreadyErased: boolean;
}

export async function erasePerson(ctx: Ctx, identityId: string, actor: Actor): Promise<EraseReport> {
  const identity = await identityOf(ctx, identityId);
  const memberships = await tenantsOf(ctx, identityId);
  const soleOwner = (
    await ctx.pool.query<{ slug: string }>(
      `select t.slug from public.memberships m join public.tenants t on t.id = m.tenant_id
        where m.identity_id = $1 and m.role = 'owner'
          and not exists (select 1 from public.memberships o where o.tenant_id = m.tenant_id and o.role = 'owner' and o.identity_id <> $1)
        order by t.slug`,
      [identityId],
    )
  ).rows.map((r) => r.slug);
  if (soleOwner.length) {
    throw new AppError(
      'CONFLICT',
      `This person is the only owner of ${soleOwner.join(', ')}: transfer ownership (or delete the tenant) first`,
      { tenants: soleOwner },
    );
  }
  const policy = erasePolicy(ctx.env.ERASE_AUTHORED_ROWS);
  const report: EraseReport = { identityId, tenants: [], auditPersonalRemoved: 0, alreadyErased: identity.erased_at !== null };

  for (const t of memberships) {
    const done = await withTenantData(
      ctx,
      t,
      undefined,
      async (c) => {
        const ids = await memberIds(c, identity);
        const deleted: Record<string, number> = {};
        for (const { table, column } of await authoredTables(c, dataSchema(t))) {
          if (table === 'members' || policy.get(table) !== 'delete') continue;
          const res = await c.query(`delete from ${ident(table)} where ${ident(column)} = any($1::uuid[])`, [ids]);
          deleted[table] = (deleted[table] ?? 0) + (res.rowCount ?? 0);
        }
        const res = await c.query('update members set display_name = $2, email = null, identity_id = null where id = any($1::uuid[])', [
          ids,
          ERASED_NAME,
        ]);
        return { slug: t.slug, deleted, pseudonymised: res.rowCount ?? 0 };
      },
      actor,
    );
    report.tenants.push(done);
  }

  report.auditPersonalRemoved = await asSystem(
    ctx.pool,
    async (c) => {
      await c.query('delete from public.tenant_invitations where email = $1', [identity.email]);
      const { rows: left } = await c.query<{ tenant_id: string }>(
        'delete from public.memberships where identity_id = $1 returning tenant_id',
        [identityId],
      );
      for (const tenantId of new Set(left.map((r) => r.tenant_id))) {
        await c.query(`select public.audit_append($1::uuid, 'identity.erased', 'identity', $2::text, null, '{}'::jsonb)`, [
          tenantId,
          identityId,
        ]);
      }
      await c.query(
        `update public.identities set email = $2, name = null, password_hash = null, is_platform_admin = false,
                erased_at = coalesce(erased_at, now()) where id = $1`,
        [identityId, erasedEmail(identityId)],
      );
      // Last: the entries just written carry this request's ip and user agent too.
      const gone = await c.query('delete from public.tenant_audit_personal where $1 = any(subject_ids) or $2 = any(emails)', [
        identityId,
        identity.email,
      ]);
      return gone.rowCount ?? 0;
    },
    actor,
  );
  accessChanged({ identities: [identityId] });
  return report;
}
