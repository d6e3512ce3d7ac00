// Fast people for persona tests: identities inserted with one precomputed
// argon2 hash (hashing per person would cost ~0.2 s each), memberships written
// as the database owner (trusted by the membership rule, like provisioning),
// and signed-in sessions opened through the real session service.
import { randomBytes } from 'node:crypto';
import { hashPassword } from '../../actions-server/src/auth/passwords.ts';
import { startSession } from '../../actions-server/src/auth/sessions.ts';
import type { TenantRole, TokenRole } from '../../actions-server/src/auth/tokens.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import type { TestDb } from './db.ts';

export const PERSON_PASSWORD = 'persona-password-42';
let hash: Promise<string> | undefined;

export interface Person {
  id: string;
  email: string;
}

/** A new identity (unique email), optionally a member of a tenant with a role. */
export async function makePerson(
  db: TestDb,
  opts: { tenantId?: string; role?: TenantRole; label?: string; platformAdmin?: boolean } = {},
): Promise<Person> {
  hash ??= hashPassword(PERSON_PASSWORD);
  const email = `${opts.label ?? 'p'}-${randomBytes(4).toString('hex')}@people.example.com`;
  const { rows } = await db.pool.query<{ id: string }>(
    'insert into public.identities (email, name, password_hash, is_platform_admin) values ($1, $1, $2, $3) returning id',
    [email, await hash, opts.platformAdmin ?? false],
  );
  const id = rows[0]!.id;
  if (opts.tenantId && opts.role) {
    await db.pool.query('insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, $3)', [
      opts.tenantId,
      id,
      opts.role,
    ]);
  }
  return { id, email };
}

/** An access token of a live session, as a login would give. */
export async function sessionToken(srv: RunningServer, userId: string, tenantId: string | null, role: TokenRole): Promise<string> {
  return (await startSession(srv.ctx, { userId, tenantId, role })).token;
}

export async function roleIn(db: TestDb, tenantId: string, identityId: string): Promise<string | null> {
  const { rows } = await db.pool.query<{ role: string }>('select role from public.memberships where tenant_id = $1 and identity_id = $2', [
    tenantId,
    identityId,
  ]);
  return rows[0]?.role ?? null;
}
