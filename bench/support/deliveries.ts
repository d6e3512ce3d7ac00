// Many distinct POST bodies (signed webhook events) delivered by a child
// process with bounded concurrency, against 127.0.0.1 only.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { runChild } from './child.ts';

export const deliveryPlanSchema = z.object({
  url: z.url().refine((u) => new URL(u).hostname === '127.0.0.1', 'deliveries go to 127.0.0.1 only'),
  concurrency: z.number().int().min(1),
  deliveries: z.array(z.object({ body: z.string(), headers: z.record(z.string(), z.string()) })),
});
export type DeliveryPlan = z.infer<typeof deliveryPlanSchema>;

const deliveryResultSchema = z.object({
  durationMs: z.number(),
  /** HTTP status -> count. */
  statusCodes: z.record(z.string(), z.number()),
  /** The `status` field of each JSON answer -> count. */
  outcomes: z.record(z.string(), z.number()),
  errors: z.number(),
});
export type DeliveryResult = z.infer<typeof deliveryResultSchema>;

const WORKER = fileURLToPath(new URL('./post-worker.ts', import.meta.url));

export function deliver(plan: DeliveryPlan): Promise<DeliveryResult> {
  return runChild(WORKER, deliveryPlanSchema.parse(plan), deliveryResultSchema);
}
