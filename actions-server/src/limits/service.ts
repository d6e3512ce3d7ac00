// A tenant's plan numbers with its overrides (tenant_settings.limit_overrides)
// applied, as PostgreSQL computes them (public.tenant_effective_limits). The
// database enforces the data limits itself; the actions server reads these for
// what only it sees: rate limits and the monthly API-call quota.
import { LRUCache } from 'lru-cache';
import type { Pool } from '../db/tx.ts';
import { AppError } from '../core/errors.ts';
import type { TenantChange } from '../domains/resolver.ts';

/** -1 means unlimited for every max*. */
export interface EffectiveLimits {
  plan: string;
  maxUsers: number;
  maxChannels: number;
  maxStorageBytes: number;
  maxApiCallsMonth: number;
  rateLimitPerMinute: number;
  rateLimitPerHour: number;
}

export interface LimitedTenant {
  id: string;
  /** The plan the caller knows of (the resolver's): a different one refreshes the cache at once. */
  plan: string;
}

interface Row {
  plan: string;
  max_users: string;
  max_channels: string;
  max_storage_bytes: string;
  max_api_calls_month: string;
  rate_limit_per_minute: number;
  rate_limit_per_hour: number;
}

async function loadEffectiveLimits(pool: Pool, tenantId: string): Promise<EffectiveLimits | undefined> {
  const { rows } = await pool.query<Row>('select * from public.tenant_effective_limits($1)', [tenantId]);
  const r = rows[0];
  if (!r) return undefined;
  return {
    plan: r.plan,
    maxUsers: Number(r.max_users),
    maxChannels: Number(r.max_channels),
    maxStorageBytes: Number(r.max_storage_bytes),
    maxApiCallsMonth: Number(r.max_api_calls_month),
    rateLimitPerMinute: r.rate_limit_per_minute,
    rateLimitPerHour: r.rate_limit_per_hour,
  };
}

/**
 * Cached per tenant. A tenant's move to another plan is seen at once (the
 * resolver hands callers the new plan, which misses this cache); an edited
 * override or plan empties the entry or the cache on its notification
 * (forget), so `ttlMs` is only the safety net of a process without them.
 */
export class LimitsService {
  // Concurrent loads of one tenant share one query, and an expired entry is
  // served while it refreshes in the background: the request path never waits
  // on the database once a tenant is known. A load that raced a change is
  // answered to its callers but not kept (the generation moved on), and
  // callers after the change start a load of their own.
  private readonly cache: LRUCache<string, EffectiveLimits>;
  private readonly loading = new Map<string, Promise<EffectiveLimits>>();
  private generation = 0;

  constructor(
    private readonly pool: Pool,
    opts: { ttlMs: number; max: number },
  ) {
    this.cache = new LRUCache<string, EffectiveLimits>({
      max: opts.max,
      ttl: Math.max(opts.ttlMs, 1),
      allowStale: true,
      noDeleteOnStaleGet: true,
    });
  }

  private load(tenantId: string): Promise<EffectiveLimits> {
    const pending = this.loading.get(tenantId);
    if (pending) return pending;
    const generation = this.generation;
    const load: Promise<EffectiveLimits> = loadEffectiveLimits(this.pool, tenantId)
      .then((limits) => {
        if (!limits) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
        if (generation === this.generation) this.cache.set(tenantId, limits);
        return limits;
      })
      .finally(() => {
        if (this.loading.get(tenantId) === load) this.loading.delete(tenantId);
      });
    this.loading.set(tenantId, load);
    return load;
  }

  /**
   * The limits when known and of the caller's plan, without waiting: the
   * request path takes no promise for them. An expired entry is answered and
   * refreshed in the background.
   */
  cached(tenant: LimitedTenant): EffectiveLimits | undefined {
    const hit = this.cache.get(tenant.id);
    if (hit?.plan !== tenant.plan) return undefined;
    if (this.cache.getRemainingTTL(tenant.id) <= 0) this.load(tenant.id).catch(() => undefined);
    return hit;
  }

  /** Drops what a tenant_changed notification says may be stale. */
  forget(change: Pick<TenantChange, 'id' | 'plans' | 'all'>): void {
    this.generation++;
    if (change.all || change.plans) {
      this.cache.clear();
      this.loading.clear();
    } else if (change.id) {
      this.cache.delete(change.id);
      this.loading.delete(change.id);
    }
  }

  async forTenant(tenant: LimitedTenant): Promise<EffectiveLimits> {
    const hit = this.cached(tenant);
    if (hit) return hit;
    const loaded = await this.load(tenant.id);
    if (loaded.plan === tenant.plan) return loaded;
    // The caller knows of a newer plan than the load saw (it began before the change): load again.
    this.forget({ id: tenant.id });
    return this.load(tenant.id);
  }
}
