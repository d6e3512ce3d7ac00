// The webhook jobs: deliveries (woken by the database when an event is emitted,
// by itself for the next retry) and a sweep each minute that catches anything
// else due (a killed worker's lease, a queue installed after the event).
import { z } from 'zod';
import { defineJob } from '../jobs/types.ts';
import { deliverDue } from './delivery.ts';
import { DELIVER_JOB } from './service.ts';

export const WEBHOOK_JOBS = [
  defineJob({
    name: DELIVER_JOB,
    payload: z.object({}).passthrough(),
    run: async (_payload, ctx) => {
      await deliverDue(ctx);
    },
  }),
  defineJob({
    name: 'webhooks.sweep',
    payload: z.object({}).passthrough(),
    schedule: '* * * * *',
    run: async (_payload, ctx) => {
      await deliverDue(ctx);
    },
  }),
];
