// Tenant webhook endpoints, their delivery log and manual replay. Request work
// runs as `app` under RLS; the signing secret is written once and returned only
// by create (app cannot select it: only the delivery job, as the owner, reads it).
import { randomBytes } from 'node:crypto';
import { AppError } from '../core/errors.ts';
import { asApp, type Client, type Pool } from '../db/tx.ts';
import type { TenantActor } from '../core/actor.ts';

export interface Endpoint {
  id: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  enabled: boolean;
  disabledAt: string | null;
  disabledReason: string | null;
  failingSince: string | null;
  createdAt: string;
}

export interface DeliveryLogEntry {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastLatencyMs: number | null;
  lastError: string | null;
  replayOf: string | null;
  createdAt: string;
  history: { attempt: number; statusCode: number | null; latencyMs: number; error: string | null; at: string }[];
}

/** The job that sends due deliveries. */
export const DELIVER_JOB = 'webhooks.deliver';

const ENDPOINT_COLUMNS = `id, url, description, event_types, enabled, disabled_at, disabled_reason, failing_since, created_at`;

interface EndpointRow {
  id: string;
  url: string;
  description: string | null;
  event_types: string[];
  enabled: boolean;
  disabled_at: Date | null;
  disabled_reason: string | null;
  failing_since: Date | null;
  created_at: Date;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function toEndpoint(r: EndpointRow): Endpoint {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    eventTypes: r.event_types,
    enabled: r.enabled,
    disabledAt: iso(r.disabled_at),
    disabledReason: r.disabled_reason,
    failingSince: iso(r.failing_since),
    createdAt: r.created_at.toISOString(),
  };
}

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export function createEndpoint(
  pool: Pool,
  actor: TenantActor,
  input: { url: string; eventTypes: string[]; description?: string | undefined },
): Promise<{ endpoint: Endpoint; secret: string }> {
  const secret = newSigningSecret();
  return asApp(pool, actor, async (c) => {
    const { rows } = await c.query<EndpointRow>(
      `insert into public.webhook_endpoints (tenant_id, url, description, event_types, secret, created_by)
       values ($1, $2, $3, $4, $5, $6) returning ${ENDPOINT_COLUMNS}`,
      [actor.tenantId, input.url, input.description ?? null, [...new Set(input.eventTypes)], secret, actor.userId],
    );
    return { endpoint: toEndpoint(rows[0]!), secret };
  });
}

export function listEndpoints(pool: Pool, actor: TenantActor): Promise<Endpoint[]> {
  return asApp(pool, actor, async (c) => {
    const { rows } = await c.query<EndpointRow>(
      `select ${ENDPOINT_COLUMNS} from public.webhook_endpoints where tenant_id = $1 order by created_at, id`,
      [actor.tenantId],
    );
    return rows.map(toEndpoint);
  });
}

async function endpointRow(c: Client, actor: TenantActor, id: string): Promise<EndpointRow> {
  const { rows } = await c.query<EndpointRow>(`select ${ENDPOINT_COLUMNS} from public.webhook_endpoints where tenant_id = $1 and id = $2`, [
    actor.tenantId,
    id,
  ]);
  if (!rows[0]) throw new AppError('NOT_FOUND', 'No such webhook endpoint');
  return rows[0];
}

export function getEndpoint(pool: Pool, actor: TenantActor, id: string): Promise<Endpoint> {
  return asApp(pool, actor, async (c) => toEndpoint(await endpointRow(c, actor, id)));
}

export function updateEndpoint(
  pool: Pool,
  actor: TenantActor,
  id: string,
  patch: {
    url?: string | undefined;
    eventTypes?: string[] | undefined;
    description?: string | null | undefined;
    enabled?: boolean | undefined;
  },
): Promise<Endpoint> {
  return asApp(pool, actor, async (c) => {
    await endpointRow(c, actor, id);
    const { rows } = await c.query<EndpointRow>(
      `update public.webhook_endpoints set
         url = coalesce($3, url),
         event_types = coalesce($4, event_types),
         description = case when $5::boolean then $6 else description end,
         enabled = coalesce($7, enabled),
         -- re-enabling starts afresh
         disabled_at = case when $7 is true then null when $7 is false and enabled then now() else disabled_at end,
         disabled_reason = case when $7 is true then null when $7 is false and enabled then 'disabled by a tenant admin' else disabled_reason end,
         failing_since = case when $7 is true then null else failing_since end
       where tenant_id = $1 and id = $2 returning ${ENDPOINT_COLUMNS}`,
      [
        actor.tenantId,
        id,
        patch.url ?? null,
        patch.eventTypes ? [...new Set(patch.eventTypes)] : null,
        patch.description !== undefined,
        patch.description ?? null,
        patch.enabled ?? null,
      ],
    );
    return toEndpoint(rows[0]!);
  });
}

export function deleteEndpoint(pool: Pool, actor: TenantActor, id: string): Promise<void> {
  return asApp(pool, actor, async (c) => {
    const { rowCount } = await c.query('delete from public.webhook_endpoints where tenant_id = $1 and id = $2', [actor.tenantId, id]);
    if (!rowCount) throw new AppError('NOT_FOUND', 'No such webhook endpoint');
  });
}

export function listDeliveries(pool: Pool, actor: TenantActor, endpointId: string, limit: number): Promise<DeliveryLogEntry[]> {
  return asApp(pool, actor, async (c) => {
    await endpointRow(c, actor, endpointId);
    const { rows } = await c.query<{
      id: string;
      event_id: string;
      event_type: string;
      status: string;
      attempts: number;
      next_attempt_at: Date;
      last_status_code: number | null;
      last_latency_ms: number | null;
      last_error: string | null;
      replay_of: string | null;
      created_at: Date;
      history: { attempt: number; status_code: number | null; latency_ms: number; error: string | null; created_at: string }[];
    }>(
      `select d.id, d.event_id, d.event_type, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_latency_ms,
              d.last_error, d.replay_of, d.created_at,
              coalesce((select jsonb_agg(to_jsonb(a) order by a.attempt) from public.webhook_delivery_attempts a
                        where a.tenant_id = d.tenant_id and a.delivery_id = d.id), '[]') as history
       from public.webhook_deliveries d
       where d.tenant_id = $1 and d.endpoint_id = $2
       order by d.created_at desc, d.id limit $3`,
      [actor.tenantId, endpointId, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      eventId: r.event_id,
      eventType: r.event_type,
      status: r.status,
      attempts: r.attempts,
      nextAttemptAt: r.status === 'pending' ? r.next_attempt_at.toISOString() : null,
      lastStatusCode: r.last_status_code,
      lastLatencyMs: r.last_latency_ms,
      lastError: r.last_error,
      replayOf: r.replay_of,
      createdAt: r.created_at.toISOString(),
      history: r.history.map((a) => ({
        attempt: a.attempt,
        statusCode: a.status_code,
        latencyMs: a.latency_ms,
        error: a.error,
        at: a.created_at,
      })),
    }));
  });
}

/**
 * Sends a delivery's event again, as a new delivery with its own attempts (same
 * webhook-id: receivers may dedupe). The caller wakes the delivery job after commit.
 */
export function replayDelivery(pool: Pool, actor: TenantActor, endpointId: string, deliveryId: string): Promise<{ id: string }> {
  return asApp(pool, actor, async (c) => {
    const endpoint = await endpointRow(c, actor, endpointId);
    if (!endpoint.enabled) throw new AppError('CONFLICT', 'The endpoint is disabled: enable it first');
    const { rows } = await c.query<{ event_id: string; event_type: string }>(
      'select event_id, event_type from public.webhook_deliveries where tenant_id = $1 and endpoint_id = $2 and id = $3',
      [actor.tenantId, endpointId, deliveryId],
    );
    const original = rows[0];
    if (!original) throw new AppError('NOT_FOUND', 'No such delivery');
    const created = await c.query<{ id: string }>(
      `insert into public.webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, replay_of)
       values ($1, $2, $3, $4, $5) returning id`,
      [actor.tenantId, endpointId, original.event_id, original.event_type, deliveryId],
    );
    return { id: created.rows[0]!.id };
  });
}
