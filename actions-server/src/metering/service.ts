// Product meters: ingestion (append-only events, exactly once per idempotency
// key, caps checked under a per-meter row lock), the enforcement check and the
// per-meter usage of a month. Runs as `app` under RLS: the tenant is the
// caller's, from the verified credentials.
import { createHash, randomUUID } from 'node:crypto';
import { AppError } from '../core/errors.ts';
import { asApp, asSystem, type Client, type Pool } from '../db/tx.ts';
import type { TenantActor } from '../core/actor.ts';
import { usagePeriod } from '../usage/service.ts';
import type { TrackEvent } from './schemas.ts';

export type Aggregation = 'sum' | 'count' | 'max';

export interface Meter {
  id: string;
  name: string;
  aggregation: Aggregation;
  unit: string;
}

export interface TrackResult {
  accepted: number;
  duplicates: number;
  events: { id: string; idempotency_key: string; duplicate: boolean }[];
}

export interface MeterUsage {
  meterId: string;
  name: string;
  unit: string;
  aggregation: Aggregation;
  period: string;
  usage: number;
  events: number;
  /** null = unlimited */
  cap: number | null;
  enforcement: 'hard' | 'soft' | null;
  remaining: number | null;
  overage: number;
}

/** Backfilled events may be this far ahead of the server's clock. */
const CLOCK_SKEW_MS = 5 * 60_000;

/** Start of the next UTC month: when the open period (and its caps) resets. */
export function periodResetsAt(at: Date = new Date()): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
}

/** JSON with sorted keys, so one event always hashes the same way. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

function requestHash(e: TrackEvent): string {
  const { idempotency_key: _key, ...rest } = e;
  return createHash('sha256').update(canonical(rest)).digest('hex');
}

interface Prepared {
  key: string;
  hash: string;
  event: TrackEvent;
  occurredAt: Date;
}

function prepare(events: TrackEvent[], now: Date, period: string): Prepared[] {
  const byKey = new Map<string, Prepared>();
  const out: Prepared[] = [];
  events.forEach((event, i) => {
    const occurredAt = event.timestamp ? new Date(event.timestamp) : now;
    if (event.timestamp && (usagePeriod(occurredAt) !== period || occurredAt.getTime() > now.getTime() + CLOCK_SKEW_MS)) {
      throw new AppError('VALIDATION_FAILED', `events.${i}.timestamp: must fall inside the open period ${period} and not in the future`, {
        issues: [{ path: `events.${i}.timestamp`, message: `must fall inside the open period ${period}` }],
      });
    }
    const key = event.idempotency_key ?? randomUUID();
    const p: Prepared = { key, hash: requestHash(event), event, occurredAt };
    const seen = byKey.get(key);
    if (seen) {
      if (seen.hash !== p.hash) throw idempotencyConflict(key);
      return;
    }
    byKey.set(key, p);
    out.push(p);
  });
  return out;
}

function idempotencyConflict(key: string): AppError {
  return new AppError('CONFLICT', `The idempotency key "${key}" was already used with a different event`, {
    reason: 'idempotency_key_reused',
    idempotency_key: key,
  });
}

async function loadMeters(client: Client, ids: string[]): Promise<Map<string, Meter>> {
  const { rows } = await client.query<Meter>('select id, name, aggregation, unit from public.meters where id = any($1::text[])', [ids]);
  const meters = new Map(rows.map((m) => [m.id, m]));
  const unknown = ids.find((id) => !meters.has(id));
  if (unknown !== undefined) throw new AppError('NOT_FOUND', `Unknown meter "${unknown}"`, { meter_id: unknown });
  return meters;
}

interface Cap {
  cap: number | null;
  enforcement: 'hard' | 'soft' | null;
}

async function capOf(client: Client, tenantId: string, meterId: string): Promise<Cap> {
  const { rows } = await client.query<{ cap: string | null; enforcement: 'hard' | 'soft' }>(
    'select cap::text, enforcement from public.tenant_meter_cap($1, $2)',
    [tenantId, meterId],
  );
  const r = rows[0];
  return { cap: r?.cap == null ? null : Number(r.cap), enforcement: r?.enforcement ?? null };
}

/**
 * Records a batch atomically: every new event is stored once (a key seen before
 * with the same event is a duplicate, with another event a 409), totals move by
 * what was stored, and a hard cap refuses the whole batch (429) when it would be
 * passed. Nothing is half-done.
 *
 * The events go in before the totals are locked, so batches of one tenant
 * insert side by side and queue only for the totals update. The unique
 * idempotency key keeps a key stored once across concurrent batches (the second
 * waits for the first to commit or roll back); keys go in sorted, so two batches
 * sharing keys wait on each other in one order, never in a cycle.
 */
export async function trackUsage(pool: Pool, actor: TenantActor, events: TrackEvent[], now = new Date()): Promise<TrackResult> {
  const period = usagePeriod(now);
  const prepared = prepare(events, now, period);
  const meterIds = [...new Set(prepared.map((p) => p.event.meter_id))].sort();
  const byKey = [...prepared].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return asApp(pool, actor, async (client) => {
    const meters = await loadMeters(client, meterIds);
    await client.query(
      `insert into public.usage_meter_totals (tenant_id, meter_id, period)
       select $1, m, $2 from unnest($3::text[]) m on conflict do nothing`,
      [actor.tenantId, period, meterIds],
    );
    const inserted = await client.query<{ id: string; idempotency_key: string }>(
      `insert into public.usage_events as u (tenant_id, meter_id, user_id, value, properties, occurred_at, period,
                                             idempotency_key, request_hash, correction, reason, actor_id)
       select $1, e.meter_id, e.user_id, e.value, e.properties, e.occurred_at, $2, e.key, e.hash, e.correction, e.reason, $3
       from unnest($4::text[], $5::text[], $6::numeric[], $7::jsonb[], $8::timestamptz[], $9::text[], $10::text[], $11::boolean[], $12::text[])
         as e (meter_id, user_id, value, properties, occurred_at, key, hash, correction, reason)
       on conflict (tenant_id, idempotency_key) do nothing
       returning u.id, u.idempotency_key`,
      [
        actor.tenantId,
        period,
        actor.userId,
        byKey.map((p) => p.event.meter_id),
        byKey.map((p) => p.event.user_id ?? null),
        byKey.map((p) => String(p.event.event_value)),
        byKey.map((p) => JSON.stringify(p.event.properties)),
        byKey.map((p) => p.occurredAt.toISOString()),
        byKey.map((p) => p.key),
        byKey.map((p) => p.hash),
        byKey.map((p) => p.event.correction),
        byKey.map((p) => p.event.reason ?? null),
      ],
    );
    const newIds = new Map(inserted.rows.map((r) => [r.idempotency_key, r.id]));
    const seenKeys = prepared.filter((p) => !newIds.has(p.key)).map((p) => p.key);
    const existing = new Map<string, { id: string; hash: string }>();
    if (seenKeys.length > 0) {
      const { rows } = await client.query<{ id: string; idempotency_key: string; request_hash: string }>(
        'select id, idempotency_key, request_hash from public.usage_events where tenant_id = $1 and idempotency_key = any($2::text[])',
        [actor.tenantId, seenKeys],
      );
      for (const r of rows) existing.set(r.idempotency_key, { id: r.id, hash: r.request_hash });
    }
    for (const p of prepared) {
      if (newIds.has(p.key)) continue;
      const prior = existing.get(p.key);
      if (!prior || prior.hash !== p.hash) throw idempotencyConflict(p.key);
    }

    // One lock order per tenant (sorted meter ids): concurrent batches cannot deadlock.
    await client.query(
      `select 1 from public.usage_meter_totals
       where tenant_id = $1 and period = $2 and meter_id = any($3::text[]) order by meter_id for update`,
      [actor.tenantId, period, meterIds],
    );
    // Totals move by what was stored (the values exactly as inserted), computed
    // in SQL (numeric, no float drift); the meter's aggregation decides the
    // usage, the cap its overage.
    const stored = prepared.filter((p) => newIds.has(p.key));
    const moved = await client.query<{
      meter_id: string;
      before: string;
      usage: string;
      cap: string | null;
      enforcement: 'hard' | 'soft' | null;
    }>(
      `with d as (
         select e.meter_id, sum(e.value) as s, sum(case when e.correction then -1 else 1 end) as n,
                max(e.value) filter (where not e.correction) as mx
         from unnest($2::text[], $4::numeric[], $5::boolean[]) as e (meter_id, value, correction) group by e.meter_id
       ), u as (
         select t.meter_id, t.usage as before, t.value_sum + d.s as s, t.event_count + d.n as n,
                greatest(t.value_max, d.mx) as mx, m.aggregation
         from public.usage_meter_totals t join d on d.meter_id = t.meter_id join public.meters m on m.id = t.meter_id
         where t.tenant_id = $1 and t.period = $3
       ), v as (
         select u.*, case u.aggregation when 'sum' then u.s when 'count' then u.n else coalesce(u.mx, 0) end as usage from u
       )
       update public.usage_meter_totals t
       set value_sum = v.s, event_count = v.n, value_max = v.mx, usage = v.usage,
           overage = greatest(0, v.usage - coalesce(c.cap, v.usage)), updated_at = now()
       from v left join lateral public.tenant_meter_cap($1, v.meter_id) c on true
       where t.tenant_id = $1 and t.period = $3 and t.meter_id = v.meter_id
       returning t.meter_id, v.before::text as before, t.usage::text as usage, c.cap::text as cap, c.enforcement`,
      [
        actor.tenantId,
        stored.map((p) => p.event.meter_id),
        period,
        stored.map((p) => String(p.event.event_value)),
        stored.map((p) => p.event.correction),
      ],
    );
    for (const row of moved.rows) {
      const [before, usage, cap] = [Number(row.before), Number(row.usage), row.cap === null ? null : Number(row.cap)];
      if (cap !== null && row.enforcement === 'hard' && usage > cap && usage > before) {
        const meter = meters.get(row.meter_id)!;
        const resetsAt = periodResetsAt(now);
        throw new AppError(
          'QUOTA_EXCEEDED',
          `The "${meter.id}" meter is capped at ${cap} ${meter.unit} for ${period}; it stands at ${before} and this batch would make it ${usage}`,
          { meter_id: meter.id, cap, usage: before, requested: usage - before, period, resetsAt: resetsAt.toISOString() },
          { 'Retry-After': String(Math.max(1, Math.ceil((resetsAt.getTime() - now.getTime()) / 1000))) },
        );
      }
    }
    const results = prepared.map((p) => {
      const id = newIds.get(p.key);
      return { id: id ?? existing.get(p.key)!.id, idempotency_key: p.key, duplicate: id === undefined };
    });
    return { accepted: newIds.size, duplicates: results.length - newIds.size, events: results };
  });
}

/** Would `amount` more fit under the meter's cap this period? Soft caps always allow (overage is billed). */
export async function checkUsage(
  pool: Pool,
  actor: TenantActor,
  meterId: string,
  amount: number,
  now = new Date(),
): Promise<{
  allowed: boolean;
  remaining: number | null;
  resetsAt: string;
  usage: number;
  cap: number | null;
  enforcement: string | null;
}> {
  const period = usagePeriod(now);
  return asApp(pool, actor, async (client) => {
    await loadMeters(client, [meterId]);
    const { rows } = await client.query<{ usage: string }>(
      'select usage::text from public.usage_meter_totals where tenant_id = $1 and meter_id = $2 and period = $3',
      [actor.tenantId, meterId, period],
    );
    const usage = Number(rows[0]?.usage ?? 0);
    const cap = await capOf(client, actor.tenantId, meterId);
    const remaining = cap.cap === null ? null : Math.max(0, cap.cap - usage);
    const allowed = cap.cap === null || cap.enforcement === 'soft' || usage + amount <= cap.cap;
    return { allowed, remaining, resetsAt: periodResetsAt(now).toISOString(), usage, cap: cap.cap, enforcement: cap.enforcement };
  });
}

/** Every meter with the tenant's usage in `period`, its cap and overage. */
export function meterUsage(pool: Pool, actor: TenantActor, period: string): Promise<MeterUsage[]> {
  return asApp(pool, actor, async (client) => {
    const { rows } = await client.query<{
      id: string;
      name: string;
      unit: string;
      aggregation: Aggregation;
      usage: string | null;
      events: string | null;
      cap: string | null;
      enforcement: 'hard' | 'soft' | null;
    }>(
      `select m.id, m.name, m.unit, m.aggregation, t.usage::text, t.event_count::text as events, c.cap::text, c.enforcement
       from public.meters m
       left join public.usage_meter_totals t on t.tenant_id = $1 and t.meter_id = m.id and t.period = $2
       left join lateral public.tenant_meter_cap($1, m.id) c on true
       order by m.id`,
      [actor.tenantId, period],
    );
    return rows.map((r) => {
      const usage = Number(r.usage ?? 0);
      const cap = r.cap === null ? null : Number(r.cap);
      return {
        meterId: r.id,
        name: r.name,
        unit: r.unit,
        aggregation: r.aggregation,
        period,
        usage,
        events: Number(r.events ?? 0),
        cap,
        enforcement: r.enforcement,
        remaining: cap === null ? null : Math.max(0, cap - usage),
        overage: cap === null ? 0 : Math.max(0, usage - cap),
      };
    });
  });
}

// --- platform administration (as the owner, on behalf of a platform admin) ---

export async function listMeters(pool: Pool): Promise<Meter[]> {
  const { rows } = await pool.query<Meter>('select id, name, aggregation, unit from public.meters order by id');
  return rows;
}

export function createMeter(pool: Pool, adminId: string, meter: Meter): Promise<Meter> {
  return asSystem(
    pool,
    async (c) => {
      const { rows } = await c.query<Meter>(
        `insert into public.meters (id, name, aggregation, unit) values ($1, $2, $3, $4)
         on conflict (id) do nothing returning id, name, aggregation, unit`,
        [meter.id, meter.name, meter.aggregation, meter.unit],
      );
      if (!rows[0]) throw new AppError('CONFLICT', `A meter "${meter.id}" already exists`);
      return rows[0];
    },
    { userId: adminId },
  );
}

export function updateMeter(
  pool: Pool,
  adminId: string,
  id: string,
  patch: { name?: string | undefined; unit?: string | undefined },
): Promise<Meter> {
  return asSystem(
    pool,
    async (c) => {
      const { rows } = await c.query<Meter>(
        `update public.meters set name = coalesce($2, name), unit = coalesce($3, unit) where id = $1 returning id, name, aggregation, unit`,
        [id, patch.name ?? null, patch.unit ?? null],
      );
      if (!rows[0]) throw new AppError('NOT_FOUND', `Unknown meter "${id}"`);
      return rows[0];
    },
    { userId: adminId },
  );
}

async function assertMeter(c: Client, id: string): Promise<void> {
  const { rowCount } = await c.query('select 1 from public.meters where id = $1', [id]);
  if (!rowCount) throw new AppError('NOT_FOUND', `Unknown meter "${id}"`);
}

export function setPlanMeter(
  pool: Pool,
  adminId: string,
  planId: string,
  meterId: string,
  v: { cap: number | null; enforcement: 'hard' | 'soft'; stripeEventName: string | null },
): Promise<void> {
  return asSystem(
    pool,
    async (c) => {
      await assertMeter(c, meterId);
      const plan = await c.query('select 1 from public.plans where id = $1', [planId]);
      if (!plan.rowCount) throw new AppError('NOT_FOUND', `Unknown plan "${planId}"`);
      await c.query(
        `insert into public.plan_meters (plan_id, meter_id, cap, enforcement, stripe_event_name) values ($1, $2, $3, $4, $5)
         on conflict (plan_id, meter_id) do update set cap = excluded.cap, enforcement = excluded.enforcement, stripe_event_name = excluded.stripe_event_name`,
        [planId, meterId, v.cap === null ? null : String(v.cap), v.enforcement, v.stripeEventName],
      );
    },
    { userId: adminId },
  );
}

/** A tenant's own cap on a meter (null cap: unlimited); `undefined` removes the override. */
export function setTenantMeterCap(
  pool: Pool,
  adminId: string,
  tenantId: string,
  meterId: string,
  v: { cap: number | null; enforcement: 'hard' | 'soft' } | undefined,
): Promise<void> {
  return asSystem(
    pool,
    async (c) => {
      await assertMeter(c, meterId);
      const t = await c.query('select 1 from public.tenants where id = $1', [tenantId]);
      if (!t.rowCount) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
      if (v === undefined) {
        await c.query('delete from public.tenant_meter_caps where tenant_id = $1 and meter_id = $2', [tenantId, meterId]);
        return;
      }
      await c.query(
        `insert into public.tenant_meter_caps (tenant_id, meter_id, cap, enforcement) values ($1, $2, $3, $4)
         on conflict (tenant_id, meter_id) do update set cap = excluded.cap, enforcement = excluded.enforcement`,
        [tenantId, meterId, v.cap === null ? null : String(v.cap), v.enforcement],
      );
    },
    { userId: adminId },
  );
}
