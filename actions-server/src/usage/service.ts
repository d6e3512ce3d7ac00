// Usage: reading public.tenant_usage (fed by triggers in PostgreSQL) and
// metering API calls, which only the actions server sees.
//
// API calls are aggregated in process and written in one statement per flush
// (USAGE_FLUSH_INTERVAL_MS, default every second, and on shutdown), so the hot
// path never writes to the database. The monthly quota is checked against the
// month's total as last read from the database plus this process's calls not
// yet confirmed there: exact within one process; other processes' calls are
// seen once they flush and this process re-reads, so a fleet can overshoot by
// about one flush interval of traffic.
import { LRUCache } from 'lru-cache';
import type { Logger } from '../core/log.ts';
import { asTenant, type Client, type Pool } from '../db/tx.ts';
import { AppError } from '../core/errors.ts';
import type { LimitedTenant, LimitsService } from '../limits/service.ts';

/** The month a usage row belongs to, in UTC: 'YYYY-MM'. */
export function usagePeriod(at: Date = new Date()): string {
  return at.toISOString().slice(0, 7);
}

function secondsUntilNextPeriod(at: Date = new Date()): number {
  const next = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - at.getTime()) / 1000));
}

export interface TenantUsage {
  tenantId: string;
  period: string;
  usersTotal: number;
  channelsTotal: number;
  messagesTotal: number;
  storageBytes: number;
  filesCount: number;
  apiCallsTotal: number;
  apiCallsByEndpoint: Record<string, number>;
}

export interface LimitReportLine {
  resource: 'users' | 'channels' | 'storage_bytes' | 'api_calls_month';
  usage: number;
  /** null = unlimited */
  limit: number | null;
  remaining: number | null;
  overage: number;
  atLimit: boolean;
  exceeded: boolean;
}

export interface UsageReport {
  tenantId: string;
  period: string;
  plan: string;
  usage: TenantUsage;
  limits: LimitReportLine[];
  overLimit: boolean;
}

interface UsageRow {
  tenant_id: string;
  period: string;
  users_total: string;
  channels_total: string;
  messages_total: string;
  storage_bytes: string;
  files_count: string;
  api_calls_total: string;
  api_calls_by_endpoint: Record<string, number>;
}

interface ReportRow {
  resource: LimitReportLine['resource'];
  usage: string;
  max_value: string;
  remaining: string | null;
  overage: string;
  at_limit: boolean;
  exceeded: boolean;
}

const emptyUsage = (tenantId: string, period: string): TenantUsage => ({
  tenantId,
  period,
  usersTotal: 0,
  channelsTotal: 0,
  messagesTotal: 0,
  storageBytes: 0,
  filesCount: 0,
  apiCallsTotal: 0,
  apiCallsByEndpoint: {},
});

interface Actor {
  tenantId: string;
  userId: string;
}

async function readUsage(client: Client, tenantId: string, period: string): Promise<TenantUsage> {
  const { rows } = await client.query<UsageRow>('select * from public.tenant_usage where tenant_id = $1 and period = $2', [
    tenantId,
    period,
  ]);
  const r = rows[0];
  // No row: a month before the tenant existed.
  if (!r) return emptyUsage(tenantId, period);
  return {
    tenantId: r.tenant_id,
    period: r.period,
    usersTotal: Number(r.users_total),
    channelsTotal: Number(r.channels_total),
    messagesTotal: Number(r.messages_total),
    storageBytes: Number(r.storage_bytes),
    filesCount: Number(r.files_count),
    apiCallsTotal: Number(r.api_calls_total),
    apiCallsByEndpoint: r.api_calls_by_endpoint,
  };
}

// Both read as `app` under RLS: the tenant comes from the verified token.
export function getUsage(pool: Pool, actor: Actor, period: string): Promise<TenantUsage> {
  return asTenant(pool, { ...actor, dbRole: 'app' }, (client) => readUsage(client, actor.tenantId, period));
}

async function readLimitLines(client: Client, tenantId: string, period: string): Promise<LimitReportLine[]> {
  const { rows } = await client.query<ReportRow>('select * from public.tenant_limit_report($1, $2)', [tenantId, period]);
  return rows.map((r): LimitReportLine => ({
    resource: r.resource,
    usage: Number(r.usage),
    limit: Number(r.max_value) < 0 ? null : Number(r.max_value),
    remaining: r.remaining === null ? null : Number(r.remaining),
    overage: Number(r.overage),
    atLimit: r.at_limit,
    exceeded: r.exceeded,
  }));
}

/** Reads in one snapshot: the plan and every month agree with each other. */
function inSnapshot<T>(pool: Pool, actor: Actor, read: (client: Client, plan: string) => Promise<T>): Promise<T> {
  return asTenant(pool, { ...actor, dbRole: 'app' }, async (client) => {
    await client.query('set transaction isolation level repeatable read');
    const plan = (await client.query<{ plan: string }>('select plan from public.tenants where id = $1', [actor.tenantId])).rows[0]?.plan;
    if (!plan) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
    return read(client, plan);
  });
}

/** The month's usage against the tenant's current plan (public.tenant_limit_report), read in one snapshot. */
export function getUsageReport(pool: Pool, actor: Actor, period: string): Promise<UsageReport> {
  return inSnapshot(pool, actor, async (client, plan) => {
    const usage = await readUsage(client, actor.tenantId, period);
    const limits = await readLimitLines(client, actor.tenantId, period);
    return { tenantId: actor.tenantId, period, plan, usage, limits, overLimit: limits.some((l) => l.exceeded) };
  });
}

export interface UsageHistory {
  tenantId: string;
  plan: string;
  /** Oldest first, ending with `until`. */
  months: { period: string; limits: LimitReportLine[] }[];
}

/** The `count` months ending with `until` ('YYYY-MM'), oldest first. */
export function periodsUntil(until: string, count: number): string[] {
  const [year, month] = until.split('-').map(Number) as [number, number];
  return Array.from({ length: count }, (_, i) => usagePeriod(new Date(Date.UTC(year, month - count + i, 1))));
}

/** Month by month, each against the current plan's limits (the chart of the admin portal). */
export function getUsageHistory(pool: Pool, actor: Actor, until: string, count: number): Promise<UsageHistory> {
  return inSnapshot(pool, actor, async (client, plan) => {
    const months = [];
    for (const period of periodsUntil(until, count)) months.push({ period, limits: await readLimitLines(client, actor.tenantId, period) });
    return { tenantId: actor.tenantId, plan, months };
  });
}

interface PendingCall {
  tenantId: string;
  period: string;
  endpoint: string;
  calls: number;
}

const MAX_ENDPOINT_LENGTH = 200;

export interface UsageServiceOptions {
  pool: Pool;
  log: Logger;
  limits: LimitsService;
  flushIntervalMs: number;
}

export class UsageService {
  /** Recorded calls not yet written, by tenant/period/endpoint. */
  private pending = new Map<string, PendingCall>();
  /** Admitted calls of this process not yet confirmed in the database, by tenant/period. */
  private readonly unconfirmed = new Map<string, number>();
  /** The month's total in the database as last read, by tenant/period (re-read after this process writes). */
  private readonly confirmed = new LRUCache<string, number>({ max: 100_000, ttl: 10_000 });
  /** Bumped by every successful write: a read that overlapped one is not cached. */
  private writes = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: UsageServiceOptions) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.opts.flushIntervalMs);
    this.timer.unref();
  }

  /** Stops the timer and writes what is left. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /**
   * Checks the tenant's monthly API-call quota and reserves one call: throws
   * AppError QUOTA_EXCEEDED (429) when the month's calls are used up. Returns
   * the function that records the call once its endpoint is known.
   */
  async admitApiCall(tenant: LimitedTenant): Promise<(endpoint: string) => void> {
    const period = usagePeriod();
    const key = `${tenant.id}|${period}`;
    const { maxApiCallsMonth: max, plan } = await this.opts.limits.forTenant(tenant);
    if (max >= 0) {
      const used = (await this.confirmedCalls(tenant.id, period)) + (this.unconfirmed.get(key) ?? 0);
      if (used >= max) {
        const retryAfter = secondsUntilNextPeriod();
        throw new AppError(
          'QUOTA_EXCEEDED',
          `api_calls_month limit reached: the ${plan} plan allows ${max} API calls a month and ${period} has used ${used}`,
          { limit: 'api_calls_month', plan, max, usage: used, period },
          { 'Retry-After': String(retryAfter) },
        );
      }
    }
    this.unconfirmed.set(key, (this.unconfirmed.get(key) ?? 0) + 1);
    let recorded = false;
    return (endpoint: string) => {
      if (recorded) return;
      recorded = true;
      this.record(tenant.id, period, endpoint);
    };
  }

  private record(tenantId: string, period: string, endpoint: string): void {
    const label = endpoint.slice(0, MAX_ENDPOINT_LENGTH) || 'unknown';
    const key = `${tenantId}|${period}|${label}`;
    const entry = this.pending.get(key);
    if (entry) entry.calls++;
    else this.pending.set(key, { tenantId, period, endpoint: label, calls: 1 });
  }

  private async confirmedCalls(tenantId: string, period: string): Promise<number> {
    const key = `${tenantId}|${period}`;
    for (;;) {
      const known = this.confirmed.get(key);
      if (known !== undefined) return known;
      // Never read while a flush is in flight: the read could count the batch
      // that is also still held as unconfirmed.
      if (this.flushing) await this.flushing;
      const writes = this.writes;
      const { rows } = await this.opts.pool.query<{ calls: string }>(
        'select coalesce(sum(calls), 0)::text as calls from public.tenant_api_calls where tenant_id = $1 and period = $2',
        [tenantId, period],
      );
      const calls = Number(rows[0]?.calls ?? 0);
      // A write finished meanwhile: this read may predate it, read again.
      if (writes !== this.writes) continue;
      // A write still in flight is counted as unconfirmed: never cache, at worst over-count.
      if (!this.flushing) this.confirmed.set(key, calls);
      return calls;
    }
  }

  /** Writes the recorded calls (one statement). A failed batch is kept for the next flush. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing.then(() => this.flush());
    if (this.pending.size === 0) return Promise.resolve();
    const batch = [...this.pending.values()].sort(
      (a, b) =>
        // One lock order for every process: concurrent flushes cannot deadlock.
        a.tenantId.localeCompare(b.tenantId) || a.period.localeCompare(b.period) || a.endpoint.localeCompare(b.endpoint),
    );
    this.pending = new Map();
    this.flushing = this.write(batch).finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  private async write(batch: PendingCall[]): Promise<void> {
    try {
      await this.opts.pool.query(
        `insert into public.tenant_api_calls as c (tenant_id, period, endpoint, calls)
         select b.tenant_id, b.period, b.endpoint, b.calls
         from unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[]) as b (tenant_id, period, endpoint, calls)
         -- a tenant deleted meanwhile has nothing left to meter
         where exists (select 1 from public.tenants t where t.id = b.tenant_id)
         on conflict (tenant_id, period, endpoint) do update set calls = c.calls + excluded.calls`,
        [batch.map((b) => b.tenantId), batch.map((b) => b.period), batch.map((b) => b.endpoint), batch.map((b) => b.calls)],
      );
    } catch (err) {
      for (const b of batch) {
        const key = `${b.tenantId}|${b.period}|${b.endpoint}`;
        const entry = this.pending.get(key);
        if (entry) entry.calls += b.calls;
        else this.pending.set(key, b);
      }
      this.opts.log.warn({ err: (err as Error).message, rows: batch.length }, 'API-call usage flush failed; will retry');
      return;
    }
    // Written: these calls now count in the database total, which is re-read on next use.
    this.writes++;
    for (const b of batch) {
      const key = `${b.tenantId}|${b.period}`;
      const left = (this.unconfirmed.get(key) ?? 0) - b.calls;
      if (left > 0) this.unconfirmed.set(key, left);
      else this.unconfirmed.delete(key);
      this.confirmed.delete(key);
    }
  }
}
