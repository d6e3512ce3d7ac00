// Who may act, read on every request (REST, the Hasura auth webhook, actions)
// and kept in process (ARCHITECTURE.md §8, §12): a person's membership role,
// platform-administrator flag and session, and the API keys of a prefix. A
// trigger on memberships, identities, auth_sessions and tenant_api_keys sends
// NOTIFY `access_changed` (migration 1763900040000_access_notify) and every
// process drops what it holds for that person or key at once, so a removal,
// demotion, logout or revocation ends access within a second as before. A
// session or key past its expiry is never answered from memory, and while the
// LISTEN connection is lost (or before it started) nothing is cached at all.
import { LRUCache } from 'lru-cache';
import type { Logger } from '../core/log.ts';
import type { Pool } from '../db/tx.ts';
import { NotificationListener } from '../db/listener.ts';
import type { TenantRole } from './tokens.ts';

export interface IdentityStanding {
  /** Role in the tenant asked about; null when not a member (or no tenant was asked about). */
  tenantRole: TenantRole | null;
  isPlatformAdmin: boolean;
  /** The session named is neither revoked nor expired (true when none was named). */
  sessionLive: boolean;
}

export type ApiKeyRole = 'admin' | 'member';

/** A live key of one prefix, as stored (the caller compares the hash). */
export interface ApiKeyRow {
  id: string;
  tenantId: string;
  role: ApiKeyRole;
  keyHash: Buffer;
  /** performance.now() after which the key has expired (Infinity: no expiry). */
  expiresAt: number;
  /** Date.now() of the last recorded use (0: never). */
  lastUsedAt: number;
}

/** What an access_changed notification names (people by identity id, keys by prefix). */
export interface AccessChange {
  identities?: (string | null)[];
  keys?: (string | null)[];
  all?: boolean;
}

interface StandingEntry {
  identityId: string;
  standing: IdentityStanding;
  /** performance.now() after which the named session has expired. */
  expiresAt: number;
}

export interface AccessCacheOptions {
  pool: Pool;
  databaseUrl: string;
  log: Logger;
  /** A backstop only: invalidation is by NOTIFY. */
  ttlMs: number;
  max: number;
}

/** performance.now() at which something `seconds` from now (as the database counts) happens. */
const deadline = (seconds: number | null): number => (seconds === null ? Infinity : performance.now() + seconds * 1000);

// The caches of this process, so a change it commits itself is dropped at once.
const running = new Set<AccessCache>();

/**
 * A change this process has just committed: every cache in it drops what it
 * holds at once, so the caller's very next request sees it without waiting for
 * the change's own NOTIFY (which still reaches every other process).
 */
export function accessChanged(change: AccessChange): void {
  for (const cache of running) cache.invalidate(change);
}

export class AccessCache {
  private readonly standings: LRUCache<string, StandingEntry>;
  // The standing keys held for each person, so a notification naming them drops them all.
  private readonly byIdentity = new Map<string, Set<string>>();
  private readonly keys: LRUCache<string, ApiKeyRow[]>;
  private readonly listener: NotificationListener;
  // Bumped on every invalidation: a load that raced with a change is not cached.
  private generation = 0;

  constructor(private readonly opts: AccessCacheOptions) {
    const ttl = Math.max(opts.ttlMs, 1);
    this.standings = new LRUCache({
      max: opts.max,
      ttl,
      ttlAutopurge: false,
      dispose: (entry, key) => {
        const held = this.byIdentity.get(entry.identityId);
        held?.delete(key);
        if (held?.size === 0) this.byIdentity.delete(entry.identityId);
      },
    });
    this.keys = new LRUCache({ max: opts.max, ttl, ttlAutopurge: false });
    this.listener = new NotificationListener({
      databaseUrl: opts.databaseUrl,
      log: opts.log,
      channel: 'access_changed',
      onNotify: (payload) => this.notified(payload),
      onLost: () => this.clear(),
    });
  }

  /** LISTEN is in place: only then is anything answered from memory. */
  get listening(): boolean {
    return this.listener.state === 'listening';
  }

  /**
   * A person's standing: their role in `tenantId`, whether they are a platform
   * administrator, whether the session named is live. Undefined when the
   * identity is gone. Both ids come from a verified token and the resolved
   * host, never from the client.
   */
  async standing(userId: string, tenantId: string | null, sessionId?: string): Promise<IdentityStanding | undefined> {
    const key = `${userId}|${tenantId ?? ''}|${sessionId ?? ''}`;
    const hit = this.standings.get(key);
    if (hit && hit.expiresAt > performance.now()) return hit.standing;
    const generation = this.generation;
    // One statement as the owner, no transaction: the uncached hot path.
    const { rows } = await this.opts.pool.query<{
      role: TenantRole | null;
      is_platform_admin: boolean;
      session_seconds: number | null;
    }>(
      `select m.role, i.is_platform_admin,
              (select extract(epoch from s.expires_at - now())::float8 from public.auth_sessions s
                where s.id = $3 and s.identity_id = i.id and s.revoked_at is null and s.expires_at > now()) as session_seconds
         from public.identities i
         left join public.memberships m on m.identity_id = i.id and m.tenant_id = $2
        where i.id = $1`,
      [userId, tenantId, sessionId ?? null],
    );
    const row = rows[0];
    if (!row) return undefined;
    const sessionLive = sessionId === undefined || row.session_seconds !== null;
    const standing: IdentityStanding = { tenantRole: row.role, isPlatformAdmin: row.is_platform_admin, sessionLive };
    if (this.listening && generation === this.generation) {
      this.standings.set(key, {
        identityId: userId,
        standing,
        expiresAt: sessionId === undefined ? Infinity : deadline(row.session_seconds),
      });
      let held = this.byIdentity.get(userId);
      if (!held) this.byIdentity.set(userId, (held = new Set()));
      held.add(key);
    }
    return standing;
  }

  /** The live (unrevoked, unexpired) keys with this prefix. */
  async apiKeys(prefix: string): Promise<ApiKeyRow[]> {
    const hit = this.keys.get(prefix);
    const now = performance.now();
    if (hit) return hit.filter((k) => k.expiresAt > now);
    const generation = this.generation;
    const { rows } = await this.opts.pool.query<{
      tenant_id: string;
      id: string;
      role: ApiKeyRole;
      key_hash: Buffer;
      last_used_at: Date | null;
      expires_in: number | null;
    }>(
      `select tenant_id, id, role, key_hash, last_used_at, extract(epoch from expires_at - now())::float8 as expires_in
         from public.tenant_api_keys
        where prefix = $1 and revoked_at is null and (expires_at is null or expires_at > now())`,
      [prefix],
    );
    const keys = rows.map((r): ApiKeyRow => ({
      id: r.id,
      tenantId: r.tenant_id,
      role: r.role,
      keyHash: r.key_hash,
      expiresAt: deadline(r.expires_in),
      lastUsedAt: r.last_used_at?.getTime() ?? 0,
    }));
    // An unknown prefix is remembered too (a key insert is notified), so guessed keys cannot flood the database.
    if (this.listening && generation === this.generation) this.keys.set(prefix, keys);
    return keys;
  }

  /** Writes a key's last use (last_used_at is not a column the notify trigger watches). */
  async recordKeyUse(key: Pick<ApiKeyRow, 'id' | 'tenantId'>): Promise<void> {
    await this.opts.pool.query('update public.tenant_api_keys set last_used_at = now() where tenant_id = $1 and id = $2', [
      key.tenantId,
      key.id,
    ]);
  }

  /** A key's role when it is still live in that tenant (actions re-check the key their session names). */
  async apiKeyRole(keyId: string, tenantId: string): Promise<ApiKeyRole | undefined> {
    const { rows } = await this.opts.pool.query<{ role: ApiKeyRole }>(
      `select role from public.tenant_api_keys
        where tenant_id = $1 and id = $2 and revoked_at is null and (expires_at is null or expires_at > now())`,
      [tenantId, keyId],
    );
    return rows[0]?.role;
  }

  private notified(payload: string): void {
    let change: AccessChange;
    try {
      change = JSON.parse(payload) as AccessChange;
    } catch {
      this.clear();
      return;
    }
    this.invalidate(change);
  }

  invalidate(change: AccessChange): void {
    if (change.all) {
      this.clear();
      return;
    }
    this.generation++;
    for (const id of change.identities ?? []) {
      if (!id) continue;
      for (const key of [...(this.byIdentity.get(id) ?? [])]) this.standings.delete(key);
    }
    for (const prefix of change.keys ?? []) if (prefix) this.keys.delete(prefix);
  }

  clear(): void {
    this.generation++;
    this.standings.clear();
    this.byIdentity.clear();
    this.keys.clear();
  }

  /** Starts listening for access changes; resolves once LISTEN is in place (caching starts then). */
  async start(): Promise<void> {
    running.add(this);
    await this.listener.start();
  }

  async stop(): Promise<void> {
    running.delete(this);
    await this.listener.stop();
    this.clear();
  }
}
