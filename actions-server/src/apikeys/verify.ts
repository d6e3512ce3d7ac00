// Recognising and checking a tenant API key on every request (REST, the auth
// webhook, actions). A key is `<prefix>.<secret>`: the prefix (sk_ + 12
// characters) is stored in the clear and indexed, the whole key only as its
// sha256. Nothing is cached, so a revocation or an expiry is seen by the next
// request.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Pool } from '../db/tx.ts';
import type { Logger } from '../core/log.ts';
import type { TenantRole } from '../auth/tokens.ts';

export const API_KEY_PREFIX_RE = /^sk_[a-z0-9]{12}$/;
// Checked only after the length check below, and linear anyway (no nesting).
const API_KEY_RE = /^(sk_[a-z0-9]{12})\.[\w-]{43}$/;
const API_KEY_LENGTH = 15 + 1 + 43;

export type ApiKeyRole = 'admin' | 'member';

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** Whether a Bearer credential has the shape of an API key (JWTs never do). */
export function looksLikeApiKey(credential: string): boolean {
  return credential.length === API_KEY_LENGTH && credential.startsWith('sk_');
}

export interface VerifiedApiKey {
  id: string;
  tenantId: string;
  role: ApiKeyRole;
}

// A key's last use is written at most once a minute, so a busy key costs no write per request.
const LAST_USE_GRANULARITY_MS = 60_000;

/** The live key for this credential, or undefined (unknown, wrong secret, revoked, expired). */
export async function verifyApiKey(pool: Pool, credential: string, log?: Logger): Promise<VerifiedApiKey | undefined> {
  if (!looksLikeApiKey(credential)) return undefined;
  const match = API_KEY_RE.exec(credential);
  if (!match) return undefined;
  const hash = hashApiKey(credential);
  const { rows } = await pool.query<{ tenant_id: string; id: string; role: ApiKeyRole; key_hash: Buffer; last_used_at: Date | null }>(
    `select tenant_id, id, role, key_hash, last_used_at from public.tenant_api_keys
      where prefix = $1 and revoked_at is null and (expires_at is null or expires_at > now())`,
    [match[1]],
  );
  const row = rows.find((r) => r.key_hash.length === hash.length && timingSafeEqual(r.key_hash, hash));
  if (!row) return undefined;
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > LAST_USE_GRANULARITY_MS) {
    pool
      .query('update public.tenant_api_keys set last_used_at = now() where tenant_id = $1 and id = $2', [row.tenant_id, row.id])
      .catch((err: unknown) => log?.warn({ err: (err as Error).message, apiKeyId: row.id }, 'could not record an API key use'));
  }
  return { id: row.id, tenantId: row.tenant_id, role: row.role };
}

const perRequest = new WeakMap<object, Promise<VerifiedApiKey | undefined>>();

/**
 * verifyApiKey once per request: the rate-limit guard and authentication both
 * need the key's tenant, and one lookup serves them (the next request looks again).
 */
export function verifyRequestApiKey(request: object, pool: Pool, credential: string, log?: Logger): Promise<VerifiedApiKey | undefined> {
  let verified = perRequest.get(request);
  if (!verified) {
    verified = verifyApiKey(pool, credential, log);
    perRequest.set(request, verified);
  }
  return verified;
}

/** A key's role when it is still live in that tenant (actions re-check the key named by the session). */
export async function apiKeyStanding(pool: Pool, keyId: string, tenantId: string): Promise<TenantRole | undefined> {
  const { rows } = await pool.query<{ role: ApiKeyRole }>(
    `select role from public.tenant_api_keys
      where tenant_id = $1 and id = $2 and revoked_at is null and (expires_at is null or expires_at > now())`,
    [tenantId, keyId],
  );
  return rows[0]?.role;
}
