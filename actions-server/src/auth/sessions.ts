// Sessions that end. A sign-in opens a session (public.auth_sessions) and gets
// a short access token carrying the session id plus a refresh token. Refresh
// tokens are stored as sha256 and used once: each refresh marks the token used
// and issues the next one of the same family. A refresh token presented a
// second time means two parties hold it, so the whole session is revoked.
// Logout revokes the session; logout-all every session of the person. Every
// path that accepts an access token checks its session is live, so a revoked
// session ends at the next request (Hasura JWT mode excepted: there the access
// token lives until it expires).
import { createHash, randomBytes } from 'node:crypto';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { asSystem, type Client, type Pool } from '../db/tx.ts';
import { accessChanged } from './access.ts';
import { lowerRole } from './membership.ts';
import { PLATFORM_ADMIN_ROLE, type TenantRole, type TokenRole } from './tokens.ts';

export type SessionContext = Pick<AppContext, 'pool' | 'tokens' | 'env'>;

export type RevokeReason = 'logout' | 'logout_all' | 'refresh_reuse' | 'password_changed' | 'password_reset' | 'membership_ended';

export interface IssuedSession {
  token: string;
  expiresIn: number;
  refreshToken: string;
  /** Seconds the refresh token (and the session) lives unless refreshed or revoked. */
  refreshExpiresIn: number;
  sessionId: string;
}

const REFRESH_RE = /^[\w-]{43}$/;

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

async function insertRefreshToken(client: Client, sessionId: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await client.query('insert into public.auth_refresh_tokens (session_id, token_hash) values ($1, $2)', [sessionId, sha256(token)]);
  return token;
}

/** Opens a session for a person who just proved who they are; inside `client`'s transaction when given. */
export async function startSession(
  ctx: SessionContext,
  input: { userId: string; tenantId: string | null; role: TokenRole; ip?: string | undefined; userAgent?: string | undefined },
  client?: Client,
): Promise<IssuedSession> {
  const refreshSeconds = ctx.env.REFRESH_TOKEN_TTL_DAYS * 86_400;
  const work = async (c: Client) => {
    const { rows } = await c.query<{ id: string }>(
      `insert into public.auth_sessions (identity_id, scope_tenant_id, role, expires_at, ip, user_agent)
       values ($1, $2, $3, now() + make_interval(secs => $4), $5, $6) returning id`,
      [input.userId, input.tenantId, input.role, refreshSeconds, input.ip?.slice(0, 64) ?? null, input.userAgent?.slice(0, 512) ?? null],
    );
    const sessionId = rows[0]!.id;
    return { sessionId, refreshToken: await insertRefreshToken(c, sessionId) };
  };
  const { sessionId, refreshToken } = client ? await work(client) : await asSystem(ctx.pool, work);
  const access = ctx.tokens.sign({ userId: input.userId, tenantId: input.tenantId, role: input.role, sessionId });
  return { ...access, refreshToken, refreshExpiresIn: refreshSeconds, sessionId };
}

interface RefreshRow {
  session_id: string;
  used_at: Date | null;
  identity_id: string;
  scope_tenant_id: string | null;
  role: TokenRole;
  revoked_at: Date | null;
  expired: boolean;
  member_role: TenantRole | null;
  is_platform_admin: boolean;
  tenant_status: string | null;
}

type RefreshOutcome =
  | { kind: 'ok'; userId: string; tenantId: string | null; role: TokenRole; sessionId: string; refreshToken: string }
  | { kind: 'refused'; error: AppError; identityId?: string };

/**
 * Exchanges a refresh token for a new access token and the next refresh token.
 * The role is the session's, lowered to the person's current one; a person no
 * longer a member (or platform admin), or a tenant no longer servable, ends the
 * session. On a tenant host the session must be that tenant's.
 */
export async function refreshSession(ctx: SessionContext, refreshToken: string, hostTenantId: string | null): Promise<IssuedSession> {
  const invalid = new AppError('INVALID_TOKEN', 'The refresh token is invalid or expired');
  if (!REFRESH_RE.test(refreshToken)) throw invalid;
  const outcome = await asSystem(ctx.pool, async (client): Promise<RefreshOutcome> => {
    const row = (
      await client.query<RefreshRow>(
        `select r.session_id, r.used_at, s.identity_id, s.scope_tenant_id, s.role, s.revoked_at,
                s.expires_at <= now() as expired, m.role as member_role, i.is_platform_admin, t.status as tenant_status
           from public.auth_refresh_tokens r
           join public.auth_sessions s on s.id = r.session_id
           join public.identities i on i.id = s.identity_id
           left join public.memberships m on m.tenant_id = s.scope_tenant_id and m.identity_id = s.identity_id
           left join public.tenants t on t.id = s.scope_tenant_id
          where r.token_hash = $1
          for update of r, s`,
        [sha256(refreshToken)],
      )
    ).rows[0];
    if (!row || row.revoked_at || row.expired) return { kind: 'refused', error: invalid };
    if (row.scope_tenant_id !== null && hostTenantId !== null && row.scope_tenant_id !== hostTenantId) {
      return { kind: 'refused', error: new AppError('TENANT_MISMATCH', 'This session belongs to another tenant') };
    }
    const revoke = async (reason: RevokeReason, error: AppError): Promise<RefreshOutcome> => {
      await client.query(`update public.auth_sessions set revoked_at = now(), revoke_reason = $2 where id = $1`, [row.session_id, reason]);
      return { kind: 'refused', error, identityId: row.identity_id };
    };
    if (row.used_at) {
      return revoke(
        'refresh_reuse',
        new AppError('REFRESH_TOKEN_REUSED', 'This refresh token was already used: the session is ended, sign in again'),
      );
    }
    let role: TokenRole;
    if (row.role === PLATFORM_ADMIN_ROLE) {
      if (!row.is_platform_admin) return revoke('membership_ended', new AppError('SESSION_ENDED', 'No longer a platform administrator'));
      role = PLATFORM_ADMIN_ROLE;
    } else {
      if (!row.member_role) return revoke('membership_ended', new AppError('SESSION_ENDED', 'You are no longer a member of this tenant'));
      if (row.tenant_status === 'suspended')
        return { kind: 'refused', error: new AppError('TENANT_SUSPENDED', 'This tenant is suspended') };
      if (row.tenant_status === 'cancelled' || row.tenant_status === 'archived') {
        return { kind: 'refused', error: new AppError('TENANT_GONE', 'This tenant has been closed') };
      }
      role = lowerRole(row.role, row.member_role);
    }
    await client.query('update public.auth_refresh_tokens set used_at = now() where token_hash = $1', [sha256(refreshToken)]);
    // Sliding: a used session lives another full refresh lifetime.
    await client.query(`update public.auth_sessions set expires_at = now() + make_interval(days => $2), role = $3 where id = $1`, [
      row.session_id,
      ctx.env.REFRESH_TOKEN_TTL_DAYS,
      role,
    ]);
    const next = await insertRefreshToken(client, row.session_id);
    return { kind: 'ok', userId: row.identity_id, tenantId: row.scope_tenant_id, role, sessionId: row.session_id, refreshToken: next };
  });
  // A refusal that revoked the family has committed before it is reported.
  if (outcome.kind === 'refused') {
    if (outcome.identityId) accessChanged({ identities: [outcome.identityId] });
    throw outcome.error;
  }
  const access = ctx.tokens.sign({ userId: outcome.userId, tenantId: outcome.tenantId, role: outcome.role, sessionId: outcome.sessionId });
  return {
    ...access,
    refreshToken: outcome.refreshToken,
    refreshExpiresIn: ctx.env.REFRESH_TOKEN_TTL_DAYS * 86_400,
    sessionId: outcome.sessionId,
  };
}

// Revocations drop the person from this process's access cache at once
// (inside a transaction that is just before its commit, whose NOTIFY follows).

/** Revokes one session (logout). Returns whether it was live. */
export async function revokeSession(pool: Pool | Client, sessionId: string, reason: RevokeReason): Promise<boolean> {
  const { rows } = await pool.query<{ identity_id: string }>(
    'update public.auth_sessions set revoked_at = now(), revoke_reason = $2 where id = $1 and revoked_at is null returning identity_id',
    [sessionId, reason],
  );
  accessChanged({ identities: rows.map((r) => r.identity_id) });
  return rows.length > 0;
}

/** Revokes every live session of a person, but `keep` (the current one, after a password change). Returns how many. */
export async function revokeSessionsOf(pool: Pool | Client, identityId: string, reason: RevokeReason, keep?: string): Promise<number> {
  const { rowCount } = await pool.query(
    `update public.auth_sessions set revoked_at = now(), revoke_reason = $2
      where identity_id = $1 and revoked_at is null and ($3::uuid is null or id <> $3)`,
    [identityId, reason, keep ?? null],
  );
  accessChanged({ identities: [identityId] });
  return rowCount ?? 0;
}
