// Tenant resolution with an in-process LRU (TTL, negative entries too). Every
// process LISTENs on `tenant_changed` (a trigger on public.tenants), so a
// suspension or domain change is seen everywhere at once, not after the TTL.
// While that connection is lost nothing is cached (changes could go unseen).
import { LRUCache } from 'lru-cache';
import { NotificationListener } from '../db/listener.ts';
import type { Logger } from '../core/log.ts';
import { isUuid, type Pool } from '../db/tx.ts';
import type { TenantRow, TenantStatus } from '../tenants/records.ts';
import { placementOf, type TenantPlacement } from '../tenants/placement.ts';
import type { HostTarget } from './hosts.ts';

/** A tenant as requests see it: its placement (tenants/placement.ts) and what answers need. */
export interface ResolvedTenant extends TenantPlacement {
  slug: string;
  name: string;
  status: TenantStatus;
  plan: string;
  customDomain: string | null;
  branding: Record<string, unknown>;
}

/** What a tenant_changed notification names (tg_tenants__notify, tg_tenant_settings__notify, tg_plans__notify). */
export interface TenantChange {
  id?: string;
  slugs?: (string | null)[];
  domains?: (string | null)[];
  /** A plan's definition changed: every tenant's limits may have. */
  plans?: boolean;
  /** Anything may have changed: a notification was unreadable, or some may have been missed. */
  all?: boolean;
}

const COLUMN_LIST = [
  'id',
  'slug',
  'name',
  'status',
  'isolation',
  'schema_name',
  'db_role',
  'database_name',
  'database_url_env',
  'plan',
  'custom_domain',
  'branding',
] as const;
const COLUMNS = COLUMN_LIST.join(', ');
type Row = Pick<TenantRow, (typeof COLUMN_LIST)[number]>;

const fromRow = (r: Row): ResolvedTenant => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  status: r.status,
  ...placementOf(r),
  plan: r.plan,
  customDomain: r.custom_domain,
  branding: r.branding,
});

type Key = `slug:${string}` | `domain:${string}` | `id:${string}`;

/** The cache key of a host target; null when the target names no tenant (the platform host, an invalid label). */
function keyOf(target: HostTarget): Key | null {
  switch (target.kind) {
    case 'platform':
      return null;
    case 'slug':
      return target.slug ? `slug:${target.slug}` : null;
    case 'domain':
      return `domain:${target.domain}`;
    default: {
      const never: never = target;
      throw new Error(`unknown host target ${JSON.stringify(never)}`);
    }
  }
}

export interface TenantResolverOptions {
  pool: Pool;
  databaseUrl: string;
  log: Logger;
  ttlMs: number;
  max: number;
}

export class TenantResolver {
  private readonly cache: LRUCache<Key, { tenant: ResolvedTenant | null }>;
  private readonly listener: NotificationListener;
  // Bumped on every invalidation: a load that raced with a change is not cached.
  private generation = 0;
  private readonly changeListeners: ((change: TenantChange) => void)[] = [];

  constructor(private readonly opts: TenantResolverOptions) {
    this.cache = new LRUCache({ max: opts.max, ttl: Math.max(opts.ttlMs, 1), ttlAutopurge: false });
    this.listener = new NotificationListener({
      databaseUrl: opts.databaseUrl,
      log: opts.log,
      channel: 'tenant_changed',
      onNotify: (payload) => this.notified(payload),
      onLost: () => this.clear(),
    });
  }

  /** LISTEN is in place (false while a lost connection is being re-established, or when stopped). */
  get listening(): boolean {
    return this.listener.state === 'listening';
  }

  resolve(target: HostTarget): Promise<ResolvedTenant | null> {
    const key = keyOf(target);
    return key === null ? Promise.resolve(null) : this.lookup(key);
  }

  /**
   * The answer for `target` when it needs no database (the platform host, an
   * invalid label, a cached tenant), synchronously; undefined when it must be
   * looked up (resolve). The request path answers cache hits without a promise.
   */
  cached(target: HostTarget): ResolvedTenant | null | undefined {
    const key = keyOf(target);
    return key === null ? null : this.cache.get(key)?.tenant;
  }

  byId(id: string): Promise<ResolvedTenant | null> {
    return isUuid(id) ? this.lookup(`id:${id}`) : Promise.resolve(null);
  }

  bySlug(slug: string): Promise<ResolvedTenant | null> {
    return this.lookup(`slug:${slug}`);
  }

  private async lookup(key: Key): Promise<ResolvedTenant | null> {
    const hit = this.cache.get(key);
    if (hit) return hit.tenant;
    const generation = this.generation;
    const tenant = await this.load(key);
    if (generation !== this.generation || this.listener.state === 'lost') return tenant;
    // Unknown hosts are cached too (briefly) so a flood of them cannot reach the database.
    this.cache.set(key, { tenant }, tenant ? undefined : { ttl: Math.min(this.opts.ttlMs, 5_000) || 1 });
    return tenant;
  }

  private async load(key: Key): Promise<ResolvedTenant | null> {
    const sep = key.indexOf(':');
    const kind = key.slice(0, sep);
    const value = key.slice(sep + 1);
    const where =
      kind === 'slug' ? 'slug = $1' : kind === 'id' ? 'id = $1::uuid' : 'custom_domain = $1 and custom_domain_verified_at is not null';
    // One statement, no transaction: this is the uncached hot path.
    const { rows } = await this.opts.pool.query<Row>(`select ${COLUMNS} from public.tenants where ${where}`, [value]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  private notified(payload: string): void {
    let change: TenantChange;
    try {
      change = JSON.parse(payload || '{}') as TenantChange;
    } catch {
      this.clear();
      return;
    }
    this.invalidate(change);
    for (const listener of this.changeListeners) listener(change);
  }

  /** Called for every tenant_changed notification this process receives (after the cache is invalidated), and on clear(). */
  onChange(listener: (change: TenantChange) => void): void {
    this.changeListeners.push(listener);
  }

  invalidate(change: TenantChange): void {
    this.generation++;
    if (change.id) this.cache.delete(`id:${change.id}`);
    for (const s of change.slugs ?? []) if (s) this.cache.delete(`slug:${s}`);
    for (const d of change.domains ?? []) if (d) this.cache.delete(`domain:${d}`);
  }

  /** Forgets every tenant, and tells the change listeners so (`all`). */
  clear(): void {
    this.generation++;
    this.cache.clear();
    for (const listener of this.changeListeners) listener({ all: true });
  }

  /** Starts listening for registry changes; resolves once LISTEN is in place. */
  async start(): Promise<void> {
    await this.listener.start();
  }

  async stop(): Promise<void> {
    await this.listener.stop();
  }
}
