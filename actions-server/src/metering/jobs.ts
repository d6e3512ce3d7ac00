// Metering jobs: usage-based billing through Stripe meters, every 15 minutes.
import { z } from 'zod';
import { defineJob } from '../jobs/types.ts';
import { reportUsageToStripe } from './stripe-report.ts';

export const METERING_JOBS = [
  defineJob({
    name: 'metering.report-to-stripe',
    payload: z.object({ tenantId: z.uuid().optional() }),
    schedule: '*/15 * * * *',
    run: async ({ tenantId }, ctx) => {
      // Billing disabled: usage stays unreported until it is enabled, then goes out in full.
      if (!ctx.stripe) return;
      await reportUsageToStripe({ pool: ctx.pool, stripe: ctx.stripe, log: ctx.log }, tenantId ? { tenantId } : {});
    },
  }),
];
