// Member management: list, change a role, remove, leave, transfer ownership.
// The rule (owners manage owners and admins, admins manage members, nobody
// removes or demotes the last owner) is enforced by the database for every
// path (trigger _200_rules on public.memberships, SQLSTATE SA403 / SA409);
// this service checks it first only to answer with a clear message, and runs
// every change as `app` for the acting person, so the database judges it.
// Removing someone also deletes their row in the tenant's own `members` table,
// whatever the tier, so the users limit counts right; the membership's removal
// is audited by the audit trigger.
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { asApp, asSystem, type Client } from '../db/tx.ts';
import type { MemberActor } from '../core/actor.ts';
import { withRegistryAndData } from '../tenants/data.ts';
import type { TenantPlacement } from '../tenants/placement.ts';
import { roleRank, type TenantRole } from '../auth/tokens.ts';
import { accessChanged } from '../auth/access.ts';
import type { ChangeRoleInput, IdentityInput, ListMembersInput } from './schemas.ts';

export type MembersContext = Pick<AppContext, 'pool' | 'databases' | 'resolver'>;

export interface MemberView {
  identityId: string;
  email: string;
  name: string | null;
  role: TenantRole;
  emailVerified: boolean;
  joinedAt: string;
}

interface MemberRow {
  identity_id: string;
  email: string;
  name: string | null;
  role: TenantRole;
  email_verified_at: Date | null;
  created_at: Date;
  created_at_text: string;
}

const toView = (r: MemberRow): MemberView => ({
  identityId: r.identity_id,
  email: r.email,
  name: r.name,
  role: r.role,
  emailVerified: r.email_verified_at !== null,
  joinedAt: r.created_at.toISOString(),
});

// Keyset cursor: the last row's exact created_at (as PostgreSQL prints it) and identity id.
function encodeCursor(r: MemberRow): string {
  return Buffer.from(JSON.stringify([r.created_at_text, r.identity_id])).toString('base64url');
}

function decodeCursor(cursor: string): [string, string] {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === 'string' &&
      typeof value[1] === 'string' &&
      !Number.isNaN(Date.parse(value[0]))
    ) {
      return [value[0], value[1]];
    }
  } catch {
    // fall through
  }
  throw new AppError('VALIDATION_FAILED', 'Invalid cursor: pass back the nextCursor of the previous page', {
    issues: [{ path: 'cursor', message: 'invalid' }],
  });
}

/** Members of the actor's tenant, oldest first, `limit` per page, optionally one role. */
export async function listMembers(
  ctx: MembersContext,
  actor: MemberActor,
  input: ListMembersInput,
): Promise<{ members: MemberView[]; nextCursor: string | null }> {
  const after = input.cursor ? decodeCursor(input.cursor) : null;
  // As the owner: other people's identities are not readable by `app`; the
  // tenant filter is explicit and the actor's membership was verified.
  const rows = await asSystem(
    ctx.pool,
    async (client) =>
      (
        await client.query<MemberRow>(
          `select m.identity_id, i.email, i.name, m.role, i.email_verified_at, m.created_at, m.created_at::text as created_at_text
           from public.memberships m join public.identities i on i.id = m.identity_id
          where m.tenant_id = $1
            and ($2::text is null or m.role = $2)
            and ($3::timestamptz is null or (m.created_at, m.identity_id) > ($3::timestamptz, $4::uuid))
          order by m.created_at, m.identity_id
          limit $5`,
          [actor.tenantId, input.role ?? null, after?.[0] ?? null, after?.[1] ?? null, input.limit + 1],
        )
      ).rows,
  );
  const page = rows.slice(0, input.limit);
  return { members: page.map(toView), nextCursor: rows.length > input.limit ? encodeCursor(page[page.length - 1]!) : null };
}

/** The database's refusals, in the catalogue's words. */
function ruleError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const message = (err as { message?: unknown } | null)?.message;
  if (code === 'SA409')
    return new AppError('LAST_OWNER', typeof message === 'string' ? message : 'The last owner cannot be removed or demoted');
  if (code === 'SA403') return new AppError('FORBIDDEN', typeof message === 'string' ? message : 'Not allowed');
  return err;
}

async function asActor<T>(ctx: MembersContext, actor: MemberActor, fn: (client: Client) => Promise<T>): Promise<T> {
  try {
    return await asApp(ctx.pool, actor, fn);
  } catch (err) {
    throw ruleError(err);
  }
}

async function roleOf(client: Client, tenantId: string, identityId: string): Promise<TenantRole> {
  const row = (
    await client.query<{ role: TenantRole }>('select role from public.memberships where tenant_id = $1 and identity_id = $2 for update', [
      tenantId,
      identityId,
    ])
  ).rows[0];
  if (!row) throw new AppError('NOT_FOUND', 'No such member in this tenant');
  return row.role;
}

/** What the actor may do to a member holding `target` (the database's rule, for a clear message first). */
function assertManages(actor: MemberActor, target: TenantRole): void {
  if (actor.role === 'owner') return;
  if (actor.role === 'admin' && target === 'member') return;
  throw new AppError('FORBIDDEN', 'Owners manage owners and admins; admins manage members');
}

async function memberView(client: Client, tenantId: string, identityId: string): Promise<MemberView> {
  // The person's email and name are filled in afterwards (withPerson): `app` reads only its own identity.
  const row = (
    await client.query<{ identity_id: string; role: TenantRole; created_at: Date }>(
      'select identity_id, role, created_at from public.memberships where tenant_id = $1 and identity_id = $2',
      [tenantId, identityId],
    )
  ).rows[0]!;
  return {
    identityId: row.identity_id,
    email: '',
    name: null,
    role: row.role,
    emailVerified: false,
    joinedAt: row.created_at.toISOString(),
  };
}

async function withPerson(ctx: MembersContext, tenantId: string, view: MemberView): Promise<MemberView> {
  const { rows } = await ctx.pool.query<{ email: string; name: string | null; email_verified_at: Date | null }>(
    'select email, name, email_verified_at from public.identities where id = $1',
    [view.identityId],
  );
  const p = rows[0];
  return p ? { ...view, email: p.email, name: p.name, emailVerified: p.email_verified_at !== null } : view;
}

/** Changes a member's role (owners only: the database refuses anyone else). */
export async function changeRole(ctx: MembersContext, actor: MemberActor, input: ChangeRoleInput): Promise<{ member: MemberView }> {
  if (actor.role !== 'owner') throw new AppError('FORBIDDEN', 'Only an owner changes roles');
  const view = await asActor(ctx, actor, async (client) => {
    const current = await roleOf(client, actor.tenantId, input.identityId);
    if (current !== input.role) {
      await client.query('update public.memberships set role = $3 where tenant_id = $1 and identity_id = $2', [
        actor.tenantId,
        input.identityId,
        input.role,
      ]);
    }
    return memberView(client, actor.tenantId, input.identityId);
  });
  accessChanged({ identities: [input.identityId] });
  return { member: await withPerson(ctx, actor.tenantId, view) };
}

async function placementFor(ctx: MembersContext, tenantId: string): Promise<TenantPlacement> {
  const t = await ctx.resolver.byId(tenantId);
  if (!t) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  return t;
}

interface RemovedRow {
  id: string;
  identity_id: string;
  display_name: string;
  email: string | null;
}

/** Removes the membership and the person's row in the tenant's data, as one unit (see tenants/data.ts). */
async function removeIdentity(
  ctx: MembersContext,
  actor: MemberActor,
  identityId: string,
): Promise<{ identityId: string; role: TenantRole }> {
  const placement = await placementFor(ctx, actor.tenantId);
  let removedRole: TenantRole = 'member';
  try {
    await withRegistryAndData(
      { pool: ctx.pool, databases: ctx.databases },
      placement,
      actor,
      async (client) => {
        const role = await roleOf(client, actor.tenantId, identityId);
        if (identityId !== actor.userId) assertManages(actor, role);
        await client.query('delete from public.memberships where tenant_id = $1 and identity_id = $2', [actor.tenantId, identityId]);
        removedRole = role;
      },
      async (client) =>
        (
          await client.query<RemovedRow>('delete from members where identity_id = $1 returning id, identity_id, display_name, email', [
            identityId,
          ])
        ).rows,
      // A database tenant's data committed first; if the registry's commit then failed, the row comes back.
      async (client, rows) => {
        for (const r of rows) {
          await client.query('insert into members (id, identity_id, display_name, email) values ($1, $2, $3, $4) on conflict do nothing', [
            r.id,
            r.identity_id,
            r.display_name,
            r.email,
          ]);
        }
      },
    );
  } catch (err) {
    throw ruleError(err);
  }
  accessChanged({ identities: [identityId] });
  return { identityId, role: removedRole };
}

/** Removes someone else (owners: anyone; admins: members). */
export async function removeMember(
  ctx: MembersContext,
  actor: MemberActor,
  input: IdentityInput,
): Promise<{ removed: { identityId: string; role: TenantRole } }> {
  if (roleRank(actor.role) < roleRank('admin') && input.identityId !== actor.userId) {
    throw new AppError('FORBIDDEN', 'Owners manage owners and admins; admins manage members');
  }
  return { removed: await removeIdentity(ctx, actor, input.identityId) };
}

/** The actor leaves the tenant (the last owner must transfer ownership first: 409). */
export async function leaveTenant(ctx: MembersContext, actor: MemberActor): Promise<{ removed: { identityId: string; role: TenantRole } }> {
  return { removed: await removeIdentity(ctx, actor, actor.userId) };
}

/** An owner makes another member owner and becomes admin, in one transaction. */
export async function transferOwnership(
  ctx: MembersContext,
  actor: MemberActor,
  input: IdentityInput,
): Promise<{ owner: MemberView; previousOwner: MemberView }> {
  if (actor.role !== 'owner') throw new AppError('FORBIDDEN', 'Only an owner transfers ownership');
  if (input.identityId === actor.userId)
    throw new AppError('VALIDATION_FAILED', 'Transfer ownership to another member', {
      issues: [{ path: 'identityId', message: 'is yourself' }],
    });
  const [owner, previous] = await asActor(ctx, actor, async (client) => {
    await roleOf(client, actor.tenantId, input.identityId);
    await client.query(`update public.memberships set role = 'owner' where tenant_id = $1 and identity_id = $2`, [
      actor.tenantId,
      input.identityId,
    ]);
    await client.query(`update public.memberships set role = 'admin' where tenant_id = $1 and identity_id = $2`, [
      actor.tenantId,
      actor.userId,
    ]);
    return [await memberView(client, actor.tenantId, input.identityId), await memberView(client, actor.tenantId, actor.userId)];
  });
  accessChanged({ identities: [input.identityId, actor.userId] });
  return { owner: await withPerson(ctx, actor.tenantId, owner), previousOwner: await withPerson(ctx, actor.tenantId, previous) };
}
