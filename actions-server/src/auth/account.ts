// A person's account: password change, forgotten password and reset, email
// verification. Tokens mailed to a person are 32 random bytes, stored as
// sha256 (public.identity_tokens), single use; a reset token lives 1 hour.
//
// "Forgot" answers the same way, doing the same work, whether or not the
// address has an account: it only enqueues a job, and the job (out of the
// request) looks the address up and mails a link when there is someone to
// mail. "Reset" hashes the new password before looking the token up, so an
// unknown token costs what a good one does.
import { createHash, randomBytes } from 'node:crypto';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { asSystem, type Client } from '../db/tx.ts';
import { enqueue } from '../jobs/queue.ts';
import { baseUrlFor, enqueueMail, linkFor, sendNow } from '../mail/service.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { revokeSessionsOf } from './sessions.ts';

export type AccountContext = Pick<AppContext, 'pool' | 'env' | 'log'>;

export const PASSWORD_RESET_JOB = 'auth.password-reset';
export const EMAIL_VERIFICATION_JOB = 'auth.email-verification';
export const RESET_TTL_MINUTES = 60;
export const VERIFICATION_TTL_HOURS = 72;
export const RESET_PATH = '/reset-password';
export const VERIFY_PATH = '/verify-email';

type Purpose = 'password_reset' | 'email_verification';

const TOKEN_RE = /^[\w-]{43}$/;
const sha256 = (v: string): Buffer => createHash('sha256').update(v, 'utf8').digest();

async function issueToken(client: Client, identityId: string, purpose: Purpose, tenantId: string | null, minutes: number): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await client.query(
    `insert into public.identity_tokens (identity_id, purpose, token_hash, context_tenant_id, expires_at)
     values ($1, $2, $3, $4, now() + make_interval(mins => $5))`,
    [identityId, purpose, sha256(token), tenantId, minutes],
  );
  return token;
}

/** Takes a mailed token: the identity it was for, or 410 (unknown, used or expired). Marks it used. */
async function consumeToken(client: Client, token: string, purpose: Purpose): Promise<string> {
  const gone = new AppError('TOKEN_EXPIRED_OR_USED', 'This link is invalid, expired or already used; ask for a new one');
  if (!TOKEN_RE.test(token)) throw gone;
  const row = (
    await client.query<{ id: string; identity_id: string }>(
      `select id, identity_id from public.identity_tokens
        where token_hash = $1 and purpose = $2 and used_at is null and expires_at > now()
        for update`,
      [sha256(token), purpose],
    )
  ).rows[0];
  if (!row) throw gone;
  // Every other open token of the same purpose dies with it.
  await client.query('update public.identity_tokens set used_at = now() where identity_id = $1 and purpose = $2 and used_at is null', [
    row.identity_id,
    purpose,
  ]);
  return row.identity_id;
}

/** POST /api/auth/forgot: the same answer and the same work whether or not the address has an account. */
export async function requestPasswordReset(ctx: AccountContext, tenantId: string | null, email: string): Promise<void> {
  await enqueue(ctx.pool, PASSWORD_RESET_JOB, { email, tenantId }, { maxAttempts: 5 });
}

/** The job behind "forgot": mails a reset link to a member of the tenant (platform host: a platform admin). */
export async function sendPasswordReset(ctx: AccountContext, input: { email: string; tenantId: string | null }): Promise<void> {
  const person = await asSystem(ctx.pool, async (client) => {
    const found = (
      await client.query<{ id: string; name: string | null }>(
        `select i.id, i.name from public.identities i
          where i.email = $1
            and (case when $2::uuid is null then i.is_platform_admin
                      else exists (select 1 from public.memberships m where m.tenant_id = $2 and m.identity_id = i.id) end)`,
        [input.email, input.tenantId],
      )
    ).rows[0];
    if (!found) return undefined;
    return { ...found, token: await issueToken(client, found.id, 'password_reset', input.tenantId, RESET_TTL_MINUTES) };
  });
  if (!person) return; // nobody to mail: nothing is sent, and nobody is told
  await sendNow(ctx, {
    template: 'password_reset',
    to: input.email,
    tenantId: input.tenantId,
    vars: {
      ...(person.name ? { name: person.name } : {}),
      link: await linkFor(ctx, input.tenantId, RESET_PATH, person.token),
      expiresIn: '1 hour',
    },
  });
}

/** POST /api/auth/reset: sets the new password, ends every session of the person, and counts as a verified address. */
export async function resetPassword(ctx: AccountContext, token: string, newPassword: string): Promise<void> {
  const hash = await hashPassword(newPassword);
  await asSystem(ctx.pool, async (client) => {
    const identityId = await consumeToken(client, token, 'password_reset');
    await client.query(
      'update public.identities set password_hash = $2, email_verified_at = coalesce(email_verified_at, now()) where id = $1',
      [identityId, hash],
    );
    await revokeSessionsOf(client, identityId, 'password_reset');
  });
}

/** POST /api/auth/password: needs the current password; every other session of the person ends. */
export async function changePassword(
  ctx: AccountContext,
  actor: { userId: string; sessionId: string | undefined },
  currentPassword: string,
  newPassword: string,
): Promise<{ revokedSessions: number }> {
  const { rows } = await ctx.pool.query<{ password_hash: string | null }>('select password_hash from public.identities where id = $1', [
    actor.userId,
  ]);
  if (!(await verifyPassword(rows[0]?.password_hash, currentPassword))) {
    throw new AppError('INVALID_CREDENTIALS', 'The current password is wrong');
  }
  const hash = await hashPassword(newPassword);
  return asSystem(ctx.pool, async (client) => {
    await client.query('update public.identities set password_hash = $2 where id = $1', [actor.userId, hash]);
    return { revokedSessions: await revokeSessionsOf(client, actor.userId, 'password_changed', actor.sessionId) };
  });
}

/** Queues a verification mail for a person (new accounts; "resend"). */
export async function requestEmailVerification(
  db: AccountContext['pool'] | Client,
  identityId: string,
  tenantId: string | null,
): Promise<void> {
  if ('release' in db) await db.query('reset role');
  await enqueue(db, EMAIL_VERIFICATION_JOB, { identityId, tenantId }, { maxAttempts: 5 });
}

/** The job: mails a verification link unless the address is verified already. */
export async function sendEmailVerification(ctx: AccountContext, input: { identityId: string; tenantId: string | null }): Promise<void> {
  const person = await asSystem(ctx.pool, async (client) => {
    const found = (
      await client.query<{ email: string; name: string | null }>(
        'select email, name from public.identities where id = $1 and email_verified_at is null',
        [input.identityId],
      )
    ).rows[0];
    if (!found) return undefined;
    return {
      ...found,
      token: await issueToken(client, input.identityId, 'email_verification', input.tenantId, VERIFICATION_TTL_HOURS * 60),
    };
  });
  if (!person) return;
  await sendNow(ctx, {
    template: 'email_verification',
    to: person.email,
    tenantId: input.tenantId,
    vars: { ...(person.name ? { name: person.name } : {}), link: await linkFor(ctx, input.tenantId, VERIFY_PATH, person.token) },
  });
}

/** POST /api/auth/verify-email: marks the address verified (410 when the link is used or expired). */
export async function verifyEmail(ctx: AccountContext, token: string): Promise<{ identityId: string }> {
  return asSystem(ctx.pool, async (client) => {
    const identityId = await consumeToken(client, token, 'email_verification');
    await client.query('update public.identities set email_verified_at = coalesce(email_verified_at, now()) where id = $1', [identityId]);
    return { identityId };
  });
}

/** After a sign-up: a welcome message, and a verification link when the account is new. */
export async function afterSignUp(
  ctx: AccountContext,
  input: { tenantId: string; identityId: string; createdIdentity: boolean },
): Promise<void> {
  await asSystem(ctx.pool, async (client) => {
    const person = (
      await client.query<{ email: string; name: string | null }>('select email, name from public.identities where id = $1', [
        input.identityId,
      ])
    ).rows[0];
    if (!person) return;
    await enqueueMail(client, {
      template: 'welcome',
      to: person.email,
      tenantId: input.tenantId,
      vars: { ...(person.name ? { name: person.name } : {}), link: `${await baseUrlFor(ctx, input.tenantId)}/` },
    });
    if (input.createdIdentity) await requestEmailVerification(client, input.identityId, input.tenantId);
  });
}
