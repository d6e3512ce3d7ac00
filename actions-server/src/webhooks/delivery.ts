// Sends due webhook deliveries: claims a batch (SKIP LOCKED plus a lease, so
// any number of workers share the work and a killed one's claims come back),
// signs each with the endpoint's secret (Standard Webhooks: webhook-id is the
// event id, the same on every attempt), posts it to the address checked just
// now, and records every attempt. Failures are retried on RETRY_SCHEDULE_MS;
// an endpoint failing for DISABLE_AFTER_MS is disabled (an audit entry in the
// tenant's trail tells its owners).
import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import type { AppContext } from '../core/context.ts';
import { withTransaction } from '../db/tx.ts';
import { enqueue } from '../jobs/queue.ts';
import { DISABLE_AFTER_MS, MAX_ATTEMPTS, RETRY_SCHEDULE_MS } from './catalogue.ts';
import { DELIVER_JOB } from './service.ts';
import { pinnedLookup, resolveTarget, TargetRefused } from './targets.ts';

interface Claimed {
  tenant_id: string;
  id: string;
  event_id: string;
  endpoint_id: string;
  attempts: number;
  url: string;
  secret: string;
  enabled: boolean;
  payload: unknown;
}

export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}

const MAX_ERROR_LENGTH = 500;
// Connections are reused between deliveries to the same host; each new one is
// made to the address checked for that send (pinnedLookup).
const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 64 }), https: new https.Agent({ keepAlive: true, maxSockets: 64 }) };

/** One POST; never throws (a refused target, a timeout or a non-2xx answer is a failed attempt). */
export async function sendOnce(
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: { allowPrivate: boolean; timeoutMs: number },
): Promise<AttemptOutcome> {
  const started = performance.now();
  const done = (ok: boolean, statusCode: number | null, error: string | null): AttemptOutcome => ({
    ok,
    statusCode,
    latencyMs: Math.round(performance.now() - started),
    error: error === null ? null : error.slice(0, MAX_ERROR_LENGTH),
  });
  let target;
  try {
    // Checked again at send time, and the connection pinned to this answer (DNS rebinding).
    target = await resolveTarget(url, opts.allowPrivate);
  } catch (err) {
    return done(false, null, err instanceof TargetRefused ? `refused: ${err.message}` : (err as Error).message);
  }
  const secure = target.url.protocol === 'https:';
  const client = secure ? https : http;
  return new Promise<AttemptOutcome>((resolve) => {
    const req = client.request(
      target.url,
      {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        lookup: pinnedLookup(target),
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'saas-webhooks/1',
        },
        timeout: opts.timeoutMs,
      },
      (res) => {
        // Only the status matters; the body is drained and dropped.
        res.resume();
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          resolve(done(code >= 200 && code < 300, code, code >= 200 && code < 300 ? null : `HTTP ${code}`));
        });
        res.on('error', (e) => resolve(done(false, res.statusCode ?? null, e.message)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`)));
    req.on('error', (e) => resolve(done(false, null, e.message)));
    req.end(body);
  });
}

/** Runs fn over items with at most `limit` at once. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

async function claim(ctx: AppContext, batch: number): Promise<Claimed[]> {
  const leaseMs = ctx.env.WEBHOOK_TIMEOUT_MS + 30_000;
  const { rows } = await ctx.pool.query<Claimed>(
    `with due as (
       select tenant_id, id from public.webhook_deliveries
       where status = 'pending' and next_attempt_at <= now() and (locked_until is null or locked_until < now())
       order by next_attempt_at limit $1 for update skip locked
     ), claimed as (
       update public.webhook_deliveries d
       set locked_until = now() + make_interval(secs => $2::double precision / 1000), attempts = d.attempts + 1
       from due where d.tenant_id = due.tenant_id and d.id = due.id
       returning d.tenant_id, d.id, d.event_id, d.endpoint_id, d.attempts
     )
     select c.tenant_id, c.id, c.event_id, c.endpoint_id, c.attempts, e.url, e.secret, e.enabled, ev.payload
     from claimed c
     join public.webhook_endpoints e on e.tenant_id = c.tenant_id and e.id = c.endpoint_id
     join public.webhook_events ev on ev.tenant_id = c.tenant_id and ev.id = c.event_id`,
    [batch, leaseMs],
  );
  return rows;
}

async function record(ctx: AppContext, claimed: Claimed[], outcomes: (AttemptOutcome | null)[]): Promise<void> {
  const now = Date.now();
  const rows = claimed.map((c, i) => {
    const o = outcomes[i] ?? null;
    // null: the endpoint was disabled meanwhile, nothing was sent
    const status = o === null ? 'cancelled' : o.ok ? 'succeeded' : c.attempts >= MAX_ATTEMPTS ? 'failed' : 'pending';
    const nextAt = status === 'pending' ? new Date(now + RETRY_SCHEDULE_MS[c.attempts]!) : new Date(now);
    return { c, o, status, nextAt };
  });
  await withTransaction(ctx.pool, async (client) => {
    const sent = rows.filter((r) => r.o !== null);
    if (sent.length > 0) {
      await client.query(
        `insert into public.webhook_delivery_attempts (tenant_id, delivery_id, attempt, status_code, latency_ms, error)
         select * from unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::int[], $6::text[])
         on conflict do nothing`,
        [
          sent.map((r) => r.c.tenant_id),
          sent.map((r) => r.c.id),
          sent.map((r) => r.c.attempts),
          sent.map((r) => r.o!.statusCode),
          sent.map((r) => r.o!.latencyMs),
          sent.map((r) => r.o!.error),
        ],
      );
    }
    await client.query(
      `update public.webhook_deliveries d
       set status = u.status, next_attempt_at = u.next_at, locked_until = null,
           last_status_code = coalesce(u.code, d.last_status_code), last_latency_ms = coalesce(u.latency, d.last_latency_ms),
           last_error = u.error, finished_at = case when u.status = 'pending' then null else now() end
       from unnest($1::uuid[], $2::uuid[], $3::text[], $4::timestamptz[], $5::int[], $6::int[], $7::text[])
         as u (tenant_id, id, status, next_at, code, latency, error)
       where d.tenant_id = u.tenant_id and d.id = u.id`,
      [
        rows.map((r) => r.c.tenant_id),
        rows.map((r) => r.c.id),
        rows.map((r) => r.status),
        rows.map((r) => r.nextAt.toISOString()),
        rows.map((r) => r.o?.statusCode ?? null),
        rows.map((r) => r.o?.latencyMs ?? null),
        rows.map((r) => (r.o === null ? 'endpoint disabled' : r.o.error)),
      ],
    );
    // Endpoint health: a success clears the failing streak; a failure starts it,
    // and a streak of DISABLE_AFTER_MS disables the endpoint (its audit entry,
    // webhook_endpoint.disabled, tells the tenant's owners) and cancels what is pending.
    const health = new Map<string, { tenantId: string; endpointId: string; ok: boolean }>();
    for (const r of sent) {
      const key = `${r.c.tenant_id}|${r.c.endpoint_id}`;
      const prior = health.get(key);
      health.set(key, { tenantId: r.c.tenant_id, endpointId: r.c.endpoint_id, ok: (prior?.ok ?? false) || r.o!.ok });
    }
    if (health.size === 0) return;
    const list = [...health.values()].sort((a, b) => a.tenantId.localeCompare(b.tenantId) || a.endpointId.localeCompare(b.endpointId));
    const args = [list.map((h) => h.tenantId), list.map((h) => h.endpointId), list.map((h) => h.ok)];
    await client.query(
      `update public.webhook_endpoints e
       set failing_since = case when h.ok then null else coalesce(e.failing_since, now()) end
       from unnest($1::uuid[], $2::uuid[], $3::boolean[]) as h (tenant_id, id, ok)
       where e.tenant_id = h.tenant_id and e.id = h.id
         and e.failing_since is distinct from (case when h.ok then null else coalesce(e.failing_since, now()) end)`,
      args,
    );
    const { rows: disabled } = await client.query<{ tenant_id: string; id: string }>(
      `update public.webhook_endpoints e
       set enabled = false, disabled_at = now(), disabled_reason = 'every delivery failed for ' || $3::text || ' days'
       from unnest($1::uuid[], $2::uuid[]) as h (tenant_id, id)
       where e.tenant_id = h.tenant_id and e.id = h.id and e.enabled
         and e.failing_since < now() - make_interval(secs => $4::double precision / 1000)
       returning e.tenant_id, e.id`,
      [args[0], args[1], String(DISABLE_AFTER_MS / 86_400_000), DISABLE_AFTER_MS],
    );
    for (const d of disabled) {
      await client.query(
        `update public.webhook_deliveries set status = 'cancelled', last_error = 'endpoint disabled', finished_at = now()
         where tenant_id = $1 and endpoint_id = $2 and status = 'pending'`,
        [d.tenant_id, d.id],
      );
      ctx.log.warn({ tenantId: d.tenant_id, endpointId: d.id }, 'webhook endpoint disabled after failing for days');
    }
  });
}

export interface DeliverOptions {
  /** Deliveries claimed at once. */
  batch?: number;
  /** Stop claiming new batches after this long (the job then wakes itself again). */
  budgetMs?: number;
}

/**
 * Sends every due delivery, batch after batch, until none is due or the time
 * budget is spent; then makes sure a job runs when the next retry is due.
 * Returns the number of attempts made.
 */
export async function deliverDue(ctx: AppContext, opts: DeliverOptions = {}): Promise<number> {
  const batch = opts.batch ?? Math.max(ctx.env.WEBHOOK_DELIVERY_CONCURRENCY * 4, 100);
  const deadline = Date.now() + (opts.budgetMs ?? 60_000);
  const sendOpts = { allowPrivate: ctx.env.WEBHOOK_ALLOW_PRIVATE_TARGETS, timeoutMs: ctx.env.WEBHOOK_TIMEOUT_MS };
  let attempts = 0;
  let more = false;
  for (;;) {
    const claimed = await claim(ctx, batch);
    if (claimed.length === 0) break;
    const outcomes = await mapLimit(claimed, ctx.env.WEBHOOK_DELIVERY_CONCURRENCY, async (c) => {
      if (!c.enabled) return null;
      const body = JSON.stringify(c.payload);
      const at = new Date();
      const signature = new Webhook(c.secret).sign(c.event_id, at, body);
      const timestamp = String(Math.floor(at.getTime() / 1000));
      return sendOnce(c.url, { 'webhook-id': c.event_id, 'webhook-timestamp': timestamp, 'webhook-signature': signature }, body, sendOpts);
    });
    await record(ctx, claimed, outcomes);
    attempts += outcomes.filter((o) => o !== null).length;
    if (Date.now() > deadline) {
      more = true;
      break;
    }
  }
  await scheduleNext(ctx, more);
  return attempts;
}

/** Wakes the job when the earliest pending delivery is due (at once when work was left). */
async function scheduleNext(ctx: AppContext, now: boolean): Promise<void> {
  const { rows } = await ctx.pool.query<{ at: Date | null }>(
    // Claimed ones are someone's; a killed worker's lease is picked up by the periodic sweep.
    `select min(next_attempt_at) as at from public.webhook_deliveries
     where status = 'pending' and (locked_until is null or locked_until < now())`,
  );
  const at = now ? new Date() : rows[0]?.at;
  if (!at) return;
  await enqueue(ctx.pool, DELIVER_JOB, {}, { jobKey: `${DELIVER_JOB}:next`, runAt: at });
}
