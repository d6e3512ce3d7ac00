// Jobs of the account flows: the mails that carry a fresh token are built in
// the job itself, so no token ever sits in the queue.
import { z } from 'zod';
import { defineJob, type JobDefinition } from '../jobs/types.ts';
import { EMAIL_VERIFICATION_JOB, PASSWORD_RESET_JOB, sendEmailVerification, sendPasswordReset } from './account.ts';

export const AUTH_JOBS: readonly JobDefinition[] = [
  defineJob({
    name: PASSWORD_RESET_JOB,
    payload: z.object({ email: z.string().max(254), tenantId: z.uuid().nullable() }),
    maxAttempts: 5,
    run: (payload, ctx) => sendPasswordReset(ctx, payload),
  }),
  defineJob({
    name: EMAIL_VERIFICATION_JOB,
    payload: z.object({ identityId: z.uuid(), tenantId: z.uuid().nullable() }),
    maxAttempts: 5,
    run: (payload, ctx) => sendEmailVerification(ctx, payload),
  }),
];
