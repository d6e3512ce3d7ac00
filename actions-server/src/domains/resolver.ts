// Tenant resolution with an in-process LRU (TTL, negative entries too). Every
// process LISTENs on `tenant_changed` (a trigger on public.tenants), so a
// suspension or domain change is seen everywhere at once, not after the TTL.
import pg from 'pg';
import { LRUCache } from 'lru-cache';
import type { Logger } from '../core/log.ts';
import { isUuid, type Pool } from '../db/tx.ts';
import type { Isolation, TenantStatus } from '../tenants/records.ts';
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

/** What a tenant_changed notification names (tg_tenants__notify, tg_tenant_settings__notify). */
export interface TenantChange {
  id?: string;
  slugs?: (string | null)[];
  domains?: (string | null)[];
}

interface Row {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  isolation: Isolation;
  schema_name: string | null;
  db_role: string | null;
  database_name: string | null;
  database_url_env: string | null;
  plan: string;
  custom_domain: string | null;
  branding: Record<string, unknown>;
}

const COLUMNS = 'id, slug, name, status, isolation, schema_name, db_role, database_name, database_url_env, plan, custom_domain, branding';

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

export interface TenantResolverOptions {
  pool: Pool;
  databaseUrl: string;
  log: Logger;
  ttlMs: number;
  max: number;
}

export class TenantResolver {
  private readonly cache: LRUCache<Key, { tenant: ResolvedTenant | null }>;
  private listener: pg.Client | undefined;
  private stopped = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  // Bumped on every invalidation: a load that raced with a change is not cached.
  private generation = 0;
  private readonly changeListeners: ((change: TenantChange) => void)[] = [];

  constructor(private readonly opts: TenantResolverOptions) {
    this.cache = new LRUCache({ max: opts.max, ttl: Math.max(opts.ttlMs, 1), ttlAutopurge: false });
  }

  async resolve(target: HostTarget): Promise<ResolvedTenant | null> {
    switch (target.kind) {
      case 'platform':
        return null;
      case 'slug':
        return target.slug ? this.lookup(`slug:${target.slug}`) : null;
      case 'domain':
        return this.lookup(`domain:${target.domain}`);
      default: {
        const never: never = target;
        throw new Error(`unknown host target ${JSON.stringify(never)}`);
      }
    }
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
    if (generation !== this.generation) return tenant;
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

  /** Called for every tenant_changed notification this process receives (after the cache is invalidated). */
  onChange(listener: (change: TenantChange) => void): void {
    this.changeListeners.push(listener);
  }

  invalidate(change: TenantChange): void {
    this.generation++;
    if (change.id) this.cache.delete(`id:${change.id}`);
    for (const s of change.slugs ?? []) if (s) this.cache.delete(`slug:${s}`);
    for (const d of change.domains ?? []) if (d) this.cache.delete(`domain:${d}`);
  }

  clear(): void {
    this.generation++;
    this.cache.clear();
  }

  /** Starts listening for registry changes; resolves once LISTEN is in place. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connectListener();
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl });
    client.on('notification', (msg) => {
      let change: TenantChange;
      try {
        change = JSON.parse(msg.payload ?? '{}') as TenantChange;
      } catch {
        this.clear();
        return;
      }
      this.invalidate(change);
      for (const listener of this.changeListeners) listener(change);
    });
    client.on('error', (err) => {
      this.opts.log.warn({ err: err.message }, 'tenant change listener lost; clearing cache and reconnecting');
      this.scheduleReconnect();
    });
    client.on('end', () => this.scheduleReconnect());
    await client.connect();
    await client.query('listen tenant_changed');
    this.listener = client;
  }

  private scheduleReconnect(): void {
    // Notifications may have been missed while disconnected.
    this.clear();
    if (this.stopped || this.reconnectTimer) return;
    this.listener = undefined;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connectListener().catch((err: Error) => {
        this.opts.log.warn({ err: err.message }, 'tenant change listener reconnect failed');
        this.scheduleReconnect();
      });
    }, 1_000);
    this.reconnectTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = undefined;
    await l?.end().catch(() => undefined);
  }
}
