// Analytics and connector events with tenant context: stored in pooled tables
// under RLS (the tenant is the caller's), and, when POSTHOG_API_KEY is set,
// analytics events are forwarded with posthog-node, which batches them; each
// carries the tenant as its PostHog group (`tenant`).
import { PostHog } from 'posthog-node';
import { z } from 'zod';
import type { Env } from '../core/config.ts';
import { AppError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { asTenant, type Pool } from '../db/tx.ts';

export const GROUP_TYPE = 'tenant';
const MAX_JSON_BYTES = 16_384;

const jsonObject = z
  .record(z.string(), z.unknown())
  .default({})
  .refine((v) => JSON.stringify(v).length <= MAX_JSON_BYTES, `must be at most ${MAX_JSON_BYTES} bytes as JSON`);

// A tenant_id in the body is never read: unknown keys are dropped by zod.
export const analyticsEventSchema = z.object({
  kind: z.literal('analytics'),
  event: z.string().trim().min(1).max(200),
  distinct_id: z.string().min(1).max(200).optional(),
  properties: jsonObject,
  timestamp: z.iso.datetime({ offset: true }).optional(),
});

export const connectorEventSchema = z.object({
  kind: z.literal('connector'),
  connector: z.string().trim().min(1).max(100),
  event: z.string().trim().min(1).max(200),
  payload: jsonObject,
  timestamp: z.iso.datetime({ offset: true }).optional(),
});

export const eventBodySchema = z.discriminatedUnion('kind', [connectorEventSchema, analyticsEventSchema]);

export type AnalyticsInput = z.infer<typeof analyticsEventSchema>;
export type ConnectorInput = z.infer<typeof connectorEventSchema>;

export interface TenantInfo {
  id: string;
  slug: string;
  plan: string;
}

/** Forwards analytics events to PostHog in batches; a no-op without POSTHOG_API_KEY. */
export class AnalyticsForwarder {
  private readonly client: PostHog | undefined;
  private readonly identified = new Set<string>();

  constructor(env: Env, log: Logger) {
    if (!env.POSTHOG_API_KEY) return;
    this.client = new PostHog(env.POSTHOG_API_KEY, { host: env.POSTHOG_HOST, flushAt: 100, flushInterval: 2_000 });
    this.client.on('error', (err: unknown) => log.warn({ err: (err as Error)?.message }, 'PostHog forwarding failed'));
  }

  get enabled(): boolean {
    return this.client !== undefined;
  }

  capture(tenant: TenantInfo, distinctId: string, event: string, properties: Record<string, unknown>, timestamp: Date): void {
    if (!this.client) return;
    if (!this.identified.has(tenant.id)) {
      this.identified.add(tenant.id);
      this.client.groupIdentify({ groupType: GROUP_TYPE, groupKey: tenant.id, properties: { slug: tenant.slug, plan: tenant.plan } });
    }
    this.client.capture({
      distinctId,
      event,
      properties: { ...properties, tenant_slug: tenant.slug },
      groups: { [GROUP_TYPE]: tenant.id },
      timestamp,
    });
  }

  async flush(): Promise<void> {
    await this.client?.flush();
  }

  async close(): Promise<void> {
    await this.client?.shutdown();
  }
}

export async function recordAnalyticsEvent(
  pool: Pool,
  forwarder: AnalyticsForwarder,
  tenant: TenantInfo,
  userId: string,
  input: AnalyticsInput,
): Promise<{ id: string }> {
  const occurredAt = input.timestamp ? new Date(input.timestamp) : new Date();
  const distinctId = input.distinct_id ?? userId;
  const id = await asTenant(pool, { tenantId: tenant.id, userId, dbRole: 'app' }, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `insert into public.analytics_events (tenant_id, event, distinct_id, properties, occurred_at) values ($1, $2, $3, $4, $5) returning id`,
      [tenant.id, input.event, distinctId, JSON.stringify(input.properties), occurredAt],
    );
    return rows[0]!.id;
  });
  // After commit: PostHog never hears of an event that was not stored.
  forwarder.capture(tenant, distinctId, input.event, input.properties, occurredAt);
  return { id };
}

export async function recordConnectorEvent(pool: Pool, tenant: TenantInfo, userId: string, input: ConnectorInput): Promise<{ id: string }> {
  return asTenant(pool, { tenantId: tenant.id, userId, dbRole: 'app' }, async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `insert into public.connector_events (tenant_id, connector, event, payload, occurred_at) values ($1, $2, $3, $4, $5) returning id`,
      [tenant.id, input.connector, input.event, JSON.stringify(input.payload), input.timestamp ? new Date(input.timestamp) : new Date()],
    );
    if (!rows[0]) throw new AppError('INTERNAL', 'event not stored');
    return { id: rows[0].id };
  });
}
