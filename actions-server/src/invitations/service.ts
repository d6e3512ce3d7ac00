// Invitations: an owner or admin invites an email address with a role; the
// invitee accepts on the tenant's address, signed in or creating an account.
// The token (32 random bytes) is shown once; only its sha256 is stored, and it
// is readable by no request role. Acceptance is one transaction: the invitation
// is locked (so of concurrent accepts exactly one wins), the membership made,
// and the person's row added to the tenant's own `members` table (as the
// tenant's data is reached in its tier: tenants/data.ts), where the plan's
// users limit is enforced (SQLSTATE SA429). A database tenant's members table
// is in its own database: that part commits just before the registry's, and is
// undone if the registry's commit fails. Every change is audited by the
// database triggers.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { AppContext } from '../core/context.ts';
import { AppError, validationError } from '../core/errors.ts';
import { asSystem, asTenant, type ActorInfo, type Client } from '../db/tx.ts';
import { placementOf, withRegistryAndData } from '../tenants/data.ts';
import type { TenantRow } from '../tenants/records.ts';
import { passwordSchema } from '../tenants/schemas.ts';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import { roleRank, type TenantRole } from '../auth/tokens.ts';
import { startSession } from '../auth/sessions.ts';
import { requestEmailVerification } from '../auth/account.ts';
import { enqueueMail, linkFor } from '../mail/service.ts';
import type { AcceptInput, InvitableRole, InviteInput, ListInput, RevokeInput } from './schemas.ts';

export type InvitationContext = Pick<AppContext, 'pool' | 'env' | 'tokens' | 'databases'>;

export const ACCEPT_PATH = '/accept-invitation';

/** A member acting on their tenant's invitations. */
export interface MemberActor extends ActorInfo {
  tenantId: string;
  userId: string;
  /**
   * The caller's verified role in the tenant: checked against memberships by the
   * transport (REST: assertMember; Hasura actions: the session's x-hasura-role,
   * which the auth webhook answers only after reading the membership).
   */
  role: TenantRole;
}

/** Someone accepting an invitation on a tenant's address. */
export interface AcceptActor extends ActorInfo {
  /** The tenant whose address the request came to. */
  tenantId: string;
  /** The verified identity when signed in (a token of any tenant proves who they are). */
  userId?: string | undefined;
}

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface InvitationView {
  id: string;
  tenantId: string;
  email: string;
  role: InvitableRole;
  status: InvitationStatus;
  invitedBy: string;
  expiresAt: string;
  acceptedAt: string | null;
  acceptedBy: string | null;
  revokedAt: string | null;
  createdAt: string;
}

interface InvitationRow {
  tenant_id: string;
  id: string;
  email: string;
  role: InvitableRole;
  invited_by: string;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_by: string | null;
  revoked_at: Date | null;
  created_at: Date;
}

// Every column but token_hash, which request roles cannot read.
const COLUMN_LIST = [
  'tenant_id',
  'id',
  'email',
  'role',
  'invited_by',
  'expires_at',
  'accepted_at',
  'accepted_by',
  'revoked_at',
  'created_at',
] as const;
const COLUMNS = COLUMN_LIST.join(', ');

const TOKEN_RE = /^[\w-]{43}$/;

function statusOf(row: Pick<InvitationRow, 'accepted_at' | 'revoked_at' | 'expires_at'>): InvitationStatus {
  if (row.accepted_at) return 'accepted';
  if (row.revoked_at) return 'revoked';
  return row.expires_at.getTime() <= Date.now() ? 'expired' : 'pending';
}

function toView(row: InvitationRow): InvitationView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    email: row.email,
    role: row.role,
    status: statusOf(row),
    invitedBy: row.invited_by,
    expiresAt: row.expires_at.toISOString(),
    acceptedAt: row.accepted_at?.toISOString() ?? null,
    acceptedBy: row.accepted_by,
    revokedAt: row.revoked_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
  };
}

function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

const appScope = (actor: ActorInfo & { tenantId: string }) => ({ ...actor, dbRole: 'app' });

function requireAdmin(actor: MemberActor): void {
  if (roleRank(actor.role) < roleRank('admin')) {
    throw new AppError('FORBIDDEN', 'Only owners and admins manage invitations');
  }
}

// Admins invite members; inviting (or replacing, or revoking) an admin is the owner's call.
function requireRoleFor(actor: MemberActor, role: InvitableRole): void {
  if (role === 'admin' && actor.role !== 'owner') {
    throw new AppError('FORBIDDEN', 'Only an owner may invite or revoke an admin');
  }
}

/** Refuses an invitation that can no longer be accepted, with the reason as the code. */
function assertAcceptable(row: Pick<InvitationRow, 'accepted_at' | 'revoked_at' | 'expires_at'>): void {
  const status = statusOf(row);
  switch (status) {
    case 'pending':
      return;
    case 'accepted':
      throw new AppError('INVITATION_USED', 'This invitation has already been accepted');
    case 'revoked':
      throw new AppError('INVITATION_REVOKED', 'This invitation was revoked; ask for a new one');
    case 'expired':
      throw new AppError('INVITATION_EXPIRED', 'This invitation has expired; ask for a new one');
    default: {
      const never: never = status;
      throw new Error(`unknown invitation status ${String(never)}`);
    }
  }
}

export interface InviteResult {
  invitation: InvitationView;
  /** The only time the token is shown: send it to the invitee. */
  token: string;
}

/** Invites `email`; an open invitation of the same address is replaced (a resend). */
export async function inviteMember(ctx: InvitationContext, actor: MemberActor, input: InviteInput): Promise<InviteResult> {
  requireAdmin(actor);
  requireRoleFor(actor, input.role);
  const token = randomBytes(32).toString('base64url');
  const invitation = await asTenant(ctx.pool, appScope(actor), async (client) => {
    const member = await client.query('select 1 from public.login_lookup($1, $2)', [actor.tenantId, input.email]);
    if (member.rowCount) throw new AppError('ALREADY_MEMBER', `${input.email} is already a member of this tenant`);
    const open = (
      await client.query<{ role: InvitableRole }>(
        `select role from public.tenant_invitations
         where tenant_id = $1 and email = $2 and accepted_at is null and revoked_at is null
         for update`,
        [actor.tenantId, input.email],
      )
    ).rows[0];
    if (open) {
      requireRoleFor(actor, open.role);
      await client.query(
        `update public.tenant_invitations set revoked_at = now(), revoked_by = $3
         where tenant_id = $1 and email = $2 and accepted_at is null and revoked_at is null`,
        [actor.tenantId, input.email, actor.userId],
      );
    }
    const created = (
      await client.query<InvitationRow>(
        `insert into public.tenant_invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(days => $6))
         returning ${COLUMNS}`,
        [actor.tenantId, input.email, input.role, hashToken(token), actor.userId, ctx.env.INVITATION_TTL_DAYS],
      )
    ).rows[0]!;
    // `app` reads its own identity: the inviter's name for the message.
    const inviter = (
      await client.query<{ email: string; name: string | null }>('select email, name from public.identities where id = $1', [actor.userId])
    ).rows[0];
    // Last in the transaction (it leaves the request role): the mail exists only if the invitation does.
    await enqueueMail(client, {
      template: 'invitation',
      to: input.email,
      tenantId: actor.tenantId,
      vars: {
        role: input.role,
        ...(inviter ? { inviter: inviter.name ?? inviter.email } : {}),
        link: await linkFor(ctx, actor.tenantId, ACCEPT_PATH, token),
        expiresIn: `${ctx.env.INVITATION_TTL_DAYS} days`,
      },
    });
    return created;
  });
  return { invitation: toView(invitation), token };
}

/** Open invitations (not accepted, revoked or expired), newest first. */
export async function listInvitations(
  ctx: InvitationContext,
  actor: MemberActor,
  _input: ListInput = {},
): Promise<{ invitations: InvitationView[] }> {
  requireAdmin(actor);
  const rows = await asTenant(
    ctx.pool,
    appScope(actor),
    async (client) =>
      (
        await client.query<InvitationRow>(
          `select ${COLUMNS} from public.tenant_invitations
         where tenant_id = $1 and accepted_at is null and revoked_at is null and expires_at > now()
         order by created_at desc, id`,
          [actor.tenantId],
        )
      ).rows,
  );
  return { invitations: rows.map(toView) };
}

/**
 * Sends an open or expired invitation again: a new token and expiry replace the
 * old ones (inviteMember revokes the open one), and the mail goes out again.
 */
export async function resendInvitation(ctx: InvitationContext, actor: MemberActor, input: RevokeInput): Promise<InviteResult> {
  requireAdmin(actor);
  const current = await asTenant(
    ctx.pool,
    appScope(actor),
    async (client) =>
      (
        await client.query<InvitationRow>(`select ${COLUMNS} from public.tenant_invitations where tenant_id = $1 and id = $2`, [
          actor.tenantId,
          input.invitationId,
        ])
      ).rows[0],
  );
  if (!current) throw new AppError('NOT_FOUND', 'Invitation not found');
  if (current.accepted_at) throw new AppError('INVITATION_USED', 'This invitation has already been accepted');
  if (current.revoked_at) throw new AppError('INVITATION_REVOKED', 'This invitation was revoked; invite the address again');
  return inviteMember(ctx, actor, { email: current.email, role: current.role });
}

/** Revokes an open invitation; revoking a revoked one returns it unchanged. */
export async function revokeInvitation(
  ctx: InvitationContext,
  actor: MemberActor,
  input: RevokeInput,
): Promise<{ invitation: InvitationView }> {
  requireAdmin(actor);
  const row = await asTenant(ctx.pool, appScope(actor), async (client) => {
    const current = (
      await client.query<InvitationRow>(`select ${COLUMNS} from public.tenant_invitations where tenant_id = $1 and id = $2 for update`, [
        actor.tenantId,
        input.invitationId,
      ])
    ).rows[0];
    if (!current) throw new AppError('NOT_FOUND', 'Invitation not found');
    requireRoleFor(actor, current.role);
    if (current.accepted_at) throw new AppError('INVITATION_USED', 'This invitation has already been accepted');
    if (current.revoked_at) return current;
    return (
      await client.query<InvitationRow>(
        `update public.tenant_invitations set revoked_at = now(), revoked_by = $3
         where tenant_id = $1 and id = $2 returning ${COLUMNS}`,
        [actor.tenantId, input.invitationId, actor.userId],
      )
    ).rows[0]!;
  });
  return { invitation: toView(row) };
}

export interface AcceptResult {
  tenantId: string;
  userId: string;
  role: InvitableRole;
  /** A session for this tenant, so the new member is signed in at once. */
  token: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
}

type FoundInvitation = InvitationRow & Pick<TenantRow, 'isolation' | 'schema_name' | 'db_role' | 'database_name' | 'database_url_env'>;

/** Who accepts: the signed-in identity, an existing account proven by its password, or a new account. */
type Acceptor = { kind: 'existing'; id: string } | { kind: 'new'; id: string; name: string; passwordHash: string };

async function resolveAcceptor(ctx: InvitationContext, actor: AcceptActor, email: string, input: AcceptInput): Promise<Acceptor> {
  if (actor.userId) return { kind: 'existing', id: actor.userId };
  // Password hashes are readable by the owner only.
  const existing = await asSystem(
    ctx.pool,
    async (client) =>
      (
        await client.query<{ id: string; password_hash: string | null }>(
          'select id, password_hash from public.identities where email = $1',
          [email],
        )
      ).rows[0],
  );
  if (existing) {
    if (input.password === undefined) {
      throw new AppError('UNAUTHENTICATED', 'An account with this email exists: sign in, or send its password');
    }
    if (!(await verifyPassword(existing.password_hash, input.password))) {
      throw new AppError('INVALID_CREDENTIALS', 'Wrong email or password');
    }
    return { kind: 'existing', id: existing.id };
  }
  if (input.name === undefined || input.password === undefined) {
    throw new AppError('VALIDATION_FAILED', 'To create your account, send your name and a password');
  }
  const password = passwordSchema.safeParse(input.password);
  if (!password.success) throw validationError(password.error, 'password');
  return { kind: 'new', id: randomUUID(), name: input.name, passwordHash: await hashPassword(password.data) };
}

/**
 * Accepts an invitation on the tenant's address. Refused with INVITATION_INVALID
 * (unknown, guessed or tampered token), INVITATION_WRONG_TENANT (another tenant's
 * address), INVITATION_USED / _REVOKED / _EXPIRED, INVITATION_EMAIL_MISMATCH
 * (signed in as someone else), ALREADY_MEMBER, or QUOTA_EXCEEDED (users limit).
 */
export async function acceptInvitation(ctx: InvitationContext, actor: AcceptActor, input: AcceptInput): Promise<AcceptResult> {
  const invalid = new AppError('INVITATION_INVALID', 'This invitation link is not valid');
  if (!TOKEN_RE.test(input.token)) throw invalid;
  // Looked up across tenants (as the owner: nobody else reads token hashes) to
  // tell a link opened on the wrong address from a link that is not valid.
  const found = await asSystem(
    ctx.pool,
    async (client) =>
      (
        await client.query<FoundInvitation>(
          `select ${COLUMN_LIST.map((c) => `i.${c}`).join(', ')},
                t.isolation, t.schema_name, t.db_role, t.database_name, t.database_url_env
         from public.tenant_invitations i join public.tenants t on t.id = i.tenant_id
         where i.token_hash = $1`,
          [hashToken(input.token)],
        )
      ).rows[0],
  );
  if (!found) throw invalid;
  if (found.tenant_id !== actor.tenantId) {
    throw new AppError('INVITATION_WRONG_TENANT', 'This invitation is for another organisation; open it on its address');
  }
  assertAcceptable(found);
  const acceptor = await resolveAcceptor(ctx, actor, found.email, input);

  const placement = placementOf({ ...found, id: found.tenant_id });
  await withRegistryAndData(
    ctx,
    placement,
    { ...actor, userId: acceptor.id },
    // Registry work as `app` under RLS for this tenant ...
    async (client) => {
      const invitation = (
        await client.query<InvitationRow>(`select ${COLUMNS} from public.tenant_invitations where tenant_id = $1 and id = $2 for update`, [
          found.tenant_id,
          found.id,
        ])
      ).rows[0];
      if (!invitation) throw invalid;
      assertAcceptable(invitation); // again under the lock: a concurrent accept may have won
      const displayName = await identityFor(client, acceptor, invitation);
      const membership = await client.query('select 1 from public.memberships where tenant_id = $1 and identity_id = $2', [
        found.tenant_id,
        acceptor.id,
      ]);
      if (membership.rowCount) throw new AppError('ALREADY_MEMBER', 'You are already a member of this tenant');
      await client.query('insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, $3)', [
        found.tenant_id,
        acceptor.id,
        invitation.role,
      ]);
      await client.query('update public.tenant_invitations set accepted_at = now(), accepted_by = $3 where tenant_id = $1 and id = $2', [
        found.tenant_id,
        found.id,
        acceptor.id,
      ]);
      return { displayName, email: invitation.email };
    },
    // ... then the person's row in the tenant's own data (unqualified: the
    // tenant's schema or the pooled tables); the users limit trigger counts it.
    async (client, person) => {
      const known = await client.query('select 1 from members where identity_id = $1', [acceptor.id]);
      if (known.rowCount) return false;
      await client.query('insert into members (identity_id, display_name, email) values ($1, $2, $3)', [
        acceptor.id,
        person.displayName,
        person.email,
      ]);
      return true;
    },
    async (client, inserted) => {
      if (inserted) await client.query('delete from members where identity_id = $1', [acceptor.id]);
    },
  );
  if (acceptor.kind === 'new') await requestEmailVerification(ctx.pool, acceptor.id, found.tenant_id);
  const { sessionId: _sid, ...session } = await startSession(ctx, {
    userId: acceptor.id,
    tenantId: found.tenant_id,
    role: found.role,
    ip: actor.ip,
    userAgent: actor.userAgent,
  });
  return { tenantId: found.tenant_id, userId: acceptor.id, role: found.role, ...session };
}

/** Creates the invited person's account, or checks that the signed-in one is the invited address. Returns a display name. */
async function identityFor(client: Client, acceptor: Acceptor, invitation: InvitationRow): Promise<string> {
  if (acceptor.kind === 'new') {
    await client.query('select public.create_invited_identity($1, $2, $3, $4)', [
      invitation.id,
      acceptor.id,
      acceptor.name,
      acceptor.passwordHash,
    ]);
    return acceptor.name;
  }
  // app reads its own identity only (app.user_id is the acceptor).
  const identity = (
    await client.query<{ email: string; name: string | null }>('select email, name from public.identities where id = $1', [acceptor.id])
  ).rows[0];
  if (identity?.email !== invitation.email) {
    throw new AppError('INVITATION_EMAIL_MISMATCH', `This invitation is for ${invitation.email}; sign in with that account`);
  }
  return identity.name ?? invitation.email;
}

/** Cron cleanup: deletes invitations past their expiry that were never accepted. Returns how many. */
export async function expireInvitations(ctx: Pick<InvitationContext, 'pool'>): Promise<number> {
  return asSystem(
    ctx.pool,
    async (client) => (await client.query<{ n: number }>('select public.expire_invitations() as n')).rows[0]?.n ?? 0,
    { actor: 'cron' },
  );
}
