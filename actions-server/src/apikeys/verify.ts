// Recognising and checking a tenant API key on every request (REST, the auth
// webhook, actions). A key is `<prefix>.<secret>`: the prefix (sk_ + 12
// characters) is stored in the clear and indexed, the whole key only as its
// sha256. The live keys of a prefix come from the access cache (auth/access.ts),
// which drops them the moment a key is revoked, so the next request sees it.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../core/log.ts';
import type { AccessCache, ApiKeyRole } from '../auth/access.ts';

export type { ApiKeyRole };

export const API_KEY_PREFIX_RE = /^sk_[a-z0-9]{12}$/;
// Checked only after the length check below, and linear anyway (no nesting).
const API_KEY_RE = /^(sk_[a-z0-9]{12})\.[\w-]{43}$/;
const API_KEY_LENGTH = 15 + 1 + 43;

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
export async function verifyApiKey(access: AccessCache, credential: string, log?: Logger): Promise<VerifiedApiKey | undefined> {
  if (!looksLikeApiKey(credential)) return undefined;
  const match = API_KEY_RE.exec(credential);
  if (!match?.[1]) return undefined;
  const hash = hashApiKey(credential);
  const row = (await access.apiKeys(match[1])).find((r) => r.keyHash.length === hash.length && timingSafeEqual(r.keyHash, hash));
  if (!row) return undefined;
  const now = Date.now();
  if (now - row.lastUsedAt > LAST_USE_GRANULARITY_MS) {
    row.lastUsedAt = now;
    access
      .recordKeyUse(row)
      .catch((err: unknown) => log?.warn({ err: (err as Error).message, apiKeyId: row.id }, 'could not record an API key use'));
  }
  return { id: row.id, tenantId: row.tenantId, role: row.role };
}

const perRequest = new WeakMap<object, Promise<VerifiedApiKey | undefined>>();

/**
 * verifyApiKey once per request: the rate-limit guard and authentication both
 * need the key's tenant, and one lookup serves them (the next request looks again).
 */
export function verifyRequestApiKey(
  request: object,
  access: AccessCache,
  credential: string,
  log?: Logger,
): Promise<VerifiedApiKey | undefined> {
  let verified = perRequest.get(request);
  if (!verified) {
    verified = verifyApiKey(access, credential, log);
    perRequest.set(request, verified);
  }
  return verified;
}
