// Input shapes of the metering API (snake_case fields, as product code sends them).
import { z } from 'zod';

export const METER_ID_RE = /^[a-z][a-z0-9_-]{1,62}$/;
export const MAX_BATCH = 1000;
const MAX_PROPERTIES_BYTES = 8_192;

export const meterIdSchema = z.string().max(63).regex(METER_ID_RE, 'lower-case letters, digits, - and _, starting with a letter');

const properties = z
  .record(z.string(), z.unknown())
  .default({})
  .refine((p) => JSON.stringify(p).length <= MAX_PROPERTIES_BYTES, `must be at most ${MAX_PROPERTIES_BYTES} bytes as JSON`);

export const trackEventSchema = z
  .object({
    meter_id: z.string().min(1).max(63),
    user_id: z.string().min(1).max(200).optional(),
    event_value: z.number().finite().default(1),
    properties,
    /** ISO 8601 with an offset; backfill must stay inside the open (current) period. */
    timestamp: z.iso.datetime({ offset: true }).optional(),
    idempotency_key: z.string().min(1).max(255).optional(),
    /** A negative event_value is only accepted as a correction (audited). */
    correction: z.boolean().default(false),
    reason: z.string().max(500).optional(),
  })
  .superRefine((e, ctx) => {
    if (e.event_value < 0 && !e.correction) {
      ctx.addIssue({ code: 'custom', path: ['event_value'], message: 'must not be negative unless "correction": true' });
    }
    if (e.correction && e.event_value >= 0) {
      ctx.addIssue({ code: 'custom', path: ['event_value'], message: 'a correction must be negative' });
    }
  });
export type TrackEvent = z.infer<typeof trackEventSchema>;

export const trackBatchSchema = z.object({ events: z.array(trackEventSchema).min(1).max(MAX_BATCH) }).strict();

/** A batch when the body has `events`, else one event: either way errors name the exact field. */
export function parseTrackBody(body: unknown): { ok: true; events: TrackEvent[] } | { ok: false; error: z.ZodError } {
  if (body !== null && typeof body === 'object' && 'events' in body) {
    const batch = trackBatchSchema.safeParse(body);
    return batch.success ? { ok: true, events: batch.data.events } : { ok: false, error: batch.error };
  }
  const one = trackEventSchema.safeParse(body ?? {});
  return one.success ? { ok: true, events: [one.data] } : { ok: false, error: one.error };
}

export const checkBodySchema = z.object({
  meter_id: z.string().min(1).max(63),
  amount: z.number().finite().min(0).default(1),
});

export const createMeterSchema = z.object({
  id: meterIdSchema,
  name: z.string().trim().min(1).max(200),
  aggregation: z.enum(['sum', 'count', 'max']).default('sum'),
  unit: z.string().trim().min(1).max(50).default('unit'),
});

export const updateMeterSchema = z
  .object({ name: z.string().trim().min(1).max(200).optional(), unit: z.string().trim().min(1).max(50).optional() })
  .refine((v) => v.name !== undefined || v.unit !== undefined, 'name or unit is required');

export const capSchema = z.object({
  /** null = unlimited */
  cap: z.number().finite().min(0).nullable(),
  enforcement: z.enum(['hard', 'soft']).default('hard'),
});

export const planMeterSchema = capSchema.extend({
  /** The Stripe billing meter's event name this plan reports the meter's usage to (null: not billed). */
  stripeEventName: z
    .string()
    .regex(/^[\w.:-]{1,100}$/)
    .nullable()
    .default(null),
});
