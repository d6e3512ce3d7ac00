// Invitations past their expiry that were never accepted are deleted (each deletion audited as `cron`).
import { defineJob, periodicPayload } from '../jobs/types.ts';
import { expireInvitations } from './service.ts';

export const INVITATION_JOBS = [
  defineJob({
    name: 'invitations.expire',
    payload: periodicPayload,
    schedule: '15 * * * *',
    run: async (_payload, ctx) => {
      const expired = await expireInvitations(ctx);
      if (expired) ctx.log.info({ expired }, 'expired invitations deleted');
    },
  }),
];
