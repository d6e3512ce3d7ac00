// Hasura event trigger deliveries (hasura/README.md §2), each handled
// exactly once (receipts.ts). Periodic work is not here: it is scheduled by the
// job runner (jobs/), which needs no Hasura, so the metadata declares no cron
// triggers and nothing runs twice for one time slot.
//
// Event triggers are optional here. The shipped metadata declares none:
// Hasura on Citus has none (ARCHITECTURE.md §11), installing one makes Hasura create
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

export const EVENT_TRIGGERS = ['tenant_status_changed'] as const;
export type EventTriggerName = (typeof EVENT_TRIGGERS)[number];

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
  if (delivery.trigger.name !== name)
    throw new AppError('VALIDATION_FAILED', `Delivery of "${delivery.trigger.name}" sent to ${EVENTS_PATH}/${name}`);
  const receipt = { id: delivery.id, kind: 'event' as const, name };
  switch (name) {
    case 'tenant_status_changed': {
      const before = delivery.event.data.old ? parse(tenantRowSchema, delivery.event.data.old, 'old row') : undefined;
      const after = delivery.event.data.new ? parse(tenantRowSchema, delivery.event.data.new, 'new row') : undefined;
      const id = after?.id ?? before?.id;
      if (!id) throw new AppError('VALIDATION_FAILED', 'The event carries no tenant row');
      const outcome = await handleOnce(ctx.pool, receipt, () => Promise.resolve({ tenantId: id }));
      // The cache is process memory: dropping entries twice is harmless, but only a first delivery does it.
      if (outcome.status === 'processed') {
        ctx.resolver.invalidate({
          id,
          slugs: [before?.slug ?? null, after?.slug ?? null],
          domains: [before?.custom_domain ?? null, after?.custom_domain ?? null],
        });
      }
      return outcome;
    }
    default: {
      const never: never = name;
      throw new AppError('NOT_FOUND', `Unknown event trigger ${String(never)}`);
    }
  }
}
