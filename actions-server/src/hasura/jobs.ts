// Receipts of Hasura deliveries are kept for investigation, then pruned.
import { z } from 'zod';
import { asSystem } from '../db/tx.ts';
import { defineJob, periodicPayload } from '../jobs/types.ts';

export const HASURA_JOBS = [
  defineJob({
    name: 'hasura.prune-receipts',
    payload: periodicPayload.extend({ olderThanDays: z.number().int().min(1).max(3650).default(30) }),
    schedule: '10 4 * * *',
    run: async ({ olderThanDays }, ctx) => {
      await asSystem(ctx.pool, (c) => c.query('select public.prune_hasura_event_receipts(make_interval(days => $1))', [olderThanDays]), {
        actor: 'cron',
      });
    },
  }),
];
