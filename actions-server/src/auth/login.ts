// Email + password on a tenant host -> a token scoped to that tenant and the
// member's role there. On the platform host only platform administrators log in.
import { AppError } from '../core/errors.ts';
import { asTenant, withTransaction, type Pool } from '../db/tx.ts';
import type { ResolvedTenant } from '../domains/resolver.ts';
import { verifyPassword } from './passwords.ts';
import { PLATFORM_ADMIN_ROLE, type TenantRole, type TokenRole } from './tokens.ts';
import { startSession, type SessionContext } from './sessions.ts';

interface LookupRow {
  identity_id: string;
  password_hash: string | null;
  role: TenantRole | null;
  is_platform_admin: boolean;
}

export interface LoginResult {
  token: string;
  expiresIn: number;
  refreshToken: string;
  refreshExpiresIn: number;
  userId: string;
  role: TokenRole;
  tenant: { id: string; slug: string } | null;
}

export async function login(
  deps: SessionContext & { pool: Pool },
  tenant: ResolvedTenant | null,
  email: string,
  password: string,
  client: { ip?: string | undefined; userAgent?: string | undefined } = {},
): Promise<LoginResult> {
  const lookup = (c: import('../db/tx.ts').Client) =>
    c.query<LookupRow>('select * from public.login_lookup($1, $2)', [tenant?.id ?? null, email]);
  const row = tenant
    ? (await asTenant(deps.pool, { tenantId: tenant.id, dbRole: 'app' }, lookup)).rows[0]
    : (
        await withTransaction(deps.pool, async (c) => {
          await c.query('set local role app');
          return lookup(c);
        })
      ).rows[0];
  const ok = await verifyPassword(row?.password_hash, password);
  if (!row || !ok) throw new AppError('INVALID_CREDENTIALS', 'Wrong email or password');
  const role: TokenRole | null = tenant ? row.role : row.is_platform_admin ? PLATFORM_ADMIN_ROLE : null;
  if (!role) throw new AppError('INVALID_CREDENTIALS', 'Wrong email or password');
  const session = await startSession(deps, { userId: row.identity_id, tenantId: tenant?.id ?? null, role, ...client });
  return {
    token: session.token,
    expiresIn: session.expiresIn,
    refreshToken: session.refreshToken,
    refreshExpiresIn: session.refreshExpiresIn,
    userId: row.identity_id,
    role,
    tenant: tenant ? { id: tenant.id, slug: tenant.slug } : null,
  };
}
