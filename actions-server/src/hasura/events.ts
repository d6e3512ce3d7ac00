// Hasura event and cron trigger deliveries (hasura/README.md §2, §3), each
// handled exactly once (receipts.ts). Cron jobs are the database's own
// functions, run in the receipt's transaction: the job's effect and its receipt
// commit together.
//
// Event triggers are optional here. The shipped metadata declares none:
// Hasura on Citus has none (ARCHITECTURE.md §8), installing one makes Hasura create
// hdb_catalog in the application database (which the restricted `hasura` role
// cannot), and tenant caches are already invalidated by LISTEN/NOTIFY.
// `tenant_status_changed` is for deployments where LISTEN cannot reach the
// database (e.g. through a transaction-pooling PgBouncer); README shows how to
// declare it.
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError, validationError } from '../core/errors.ts';
import { handleOnce, type Outcome } from './receipts.ts';

export const EVENTS_PATH = '/hasura/events';
export const CRON_PATH = '/hasura/cron';

export const EVENT_TRIGGERS = ['tenant_status_changed'] as const;
export type EventTriggerName = (typeof EVENT_TRIGGERS)[number];

export const CRON_JOBS = ['archive_cancelled_tenants', 'expire_invitations', 'prune_processed_records', 'suspend_past_due_tenants'] as const;
export type CronJobName = (typeof CRON_JOBS)[number];

const row = z.record(z.string(), z.unknown());

/** An event trigger delivery (hasura/README.md §2). */
export const eventDeliverySchema = z.object({
  id: z.string().min(1).max(200),
  created_at: z.string(),
  trigger: z.object({ name: z.string() }),
  table: z.object({ schema: z.string(), name: z.string() }),
  delivery_info: z.object({ current_retry: z.number(), max_retries: z.number() }).optional(),
  event: z.object({
    op: z.enum(['INSERT', 'UPDATE', 'DELETE', 'MANUAL']),
    data: z.object({ old: row.nullable(), new: row.nullable() }),
    session_variables: z.record(z.string(), z.string()).nullable().optional(),
    trace_context: z.unknown().optional(),
  }),
});

/** A cron trigger delivery (hasura/README.md §3); null fields are omitted by Hasura. */
export const cronDeliverySchema = z.object({
  id: z.string().min(1).max(200),
  name: z.string().optional(),
  scheduled_time: z.iso.datetime({ offset: true }),
  payload: z.unknown().optional(),
  comment: z.string().optional(),
  created_at: z.string().optional(),
});

const tenantRowSchema = z.object({ id: z.uuid(), slug: z.string().nullable().optional(), custom_domain: z.string().nullable().optional() });

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}

function known<T extends string>(names: readonly T[], name: string, what: string): T {
  const hit = names.find((n) => n === name);
  if (!hit) throw new AppError('NOT_FOUND', `Unknown ${what} "${name}"`);
  return hit;
}

export async function handleEventDelivery(ctx: AppContext, pathName: string, body: unknown): Promise<Outcome<unknown>> {
  const name = known(EVENT_TRIGGERS, pathName, 'event trigger');
  const delivery = parse(eventDeliverySchema, body, 'event delivery');
  if (delivery.trigger.name !== name) throw new AppError('VALIDATION_FAILED', `Delivery of "${delivery.trigger.name}" sent to ${EVENTS_PATH}/${name}`);
  const receipt = { id: delivery.id, kind: 'event' as const, name };
  switch (name) {
    case 'tenant_status_changed': {
      const before = delivery.event.data.old ? parse(tenantRowSchema, delivery.event.data.old, 'old row') : undefined;
      const after = delivery.event.data.new ? parse(tenantRowSchema, delivery.event.data.new, 'new row') : undefined;
      const id = after?.id ?? before?.id;
      if (!id) throw new AppError('VALIDATION_FAILED', 'The event carries no tenant row');
      const outcome = await handleOnce(ctx.pool, receipt, async () => ({ tenantId: id }));
      // The cache is process memory: dropping entries twice is harmless, but only a first delivery does it.
      if (outcome.status === 'processed') {
        ctx.resolver.invalidate({ id, slugs: [before?.slug ?? null, after?.slug ?? null], domains: [before?.custom_domain ?? null, after?.custom_domain ?? null] });
      }
      return outcome;
    }
    default: {
      const never: never = name;
      throw new AppError('NOT_FOUND', `Unknown event trigger ${String(never)}`);
    }
  }
}

const olderThan = (defaultDays: number) =>
  z.object({ olderThanDays: z.number().int().min(1).max(3650).default(defaultDays) }).strict().default({ olderThanDays: defaultDays });
const noPayload = z.object({}).strict().default({});

export async function handleCronDelivery(ctx: AppContext, pathName: string, body: unknown): Promise<Outcome<unknown>> {
  const name = known(CRON_JOBS, pathName, 'cron job');
  const delivery = parse(cronDeliverySchema, body, 'cron delivery');
  if (delivery.name !== undefined && delivery.name !== name) {
    throw new AppError('VALIDATION_FAILED', `Delivery of "${delivery.name}" sent to ${CRON_PATH}/${name}`);
  }
  const receipt = { id: delivery.id, kind: 'cron' as const, name };
  switch (name) {
    case 'archive_cancelled_tenants': {
      const { olderThanDays } = parse(olderThan(90), delivery.payload, 'cron payload');
      return handleOnce(ctx.pool, receipt, async (c) => ({
        archived: (await c.query<{ n: number }>('select public.archive_cancelled_tenants(make_interval(days => $1)) as n', [olderThanDays])).rows[0]?.n ?? 0,
      }));
    }
    case 'expire_invitations': {
      parse(noPayload, delivery.payload, 'cron payload');
      return handleOnce(ctx.pool, receipt, async (c) => ({
        expired: (await c.query<{ n: number }>('select public.expire_invitations() as n')).rows[0]?.n ?? 0,
      }));
    }
    case 'prune_processed_records': {
      const { olderThanDays } = parse(olderThan(30), delivery.payload, 'cron payload');
      return handleOnce(ctx.pool, receipt, async (c) => {
        const days = [olderThanDays];
        return {
          stripeWebhooks: (await c.query<{ n: number }>('select public.purge_stripe_webhooks(make_interval(days => $1)) as n', days)).rows[0]?.n ?? 0,
          eventReceipts: (await c.query<{ n: number }>('select public.prune_hasura_event_receipts(make_interval(days => $1)) as n', days)).rows[0]?.n ?? 0,
        };
      });
    }
    case 'suspend_past_due_tenants': {
      parse(noPayload, delivery.payload, 'cron payload');
      // The schedule's time is the job's clock, so a late redelivery judges the grace periods as of when it was due.
      const outcome = await handleOnce(ctx.pool, receipt, async (c) => ({
        suspended: (await c.query<{ id: string }>('select id from public.suspend_past_due_tenants($1) as id', [delivery.scheduled_time])).rows.map((r) => r.id),
      }));
      if (outcome.status === 'processed') {
        for (const tenantId of outcome.result.suspended) ctx.log.warn({ tenantId }, 'tenant suspended: payment overdue past its grace period');
      }
      return outcome;
    }
    default: {
      const never: never = name;
      throw new AppError('NOT_FOUND', `Unknown cron job ${String(never)}`);
    }
  }
}
