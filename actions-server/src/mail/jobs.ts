// The mail job: one message per job, retried with backoff when the SMTP server
// fails. A message delivered twice (a worker killed after sending) is the
// accepted cost of never losing one.
import { z } from 'zod';
import { defineJob, type JobDefinition } from '../jobs/types.ts';
import { MAIL_JOB, sendNow } from './service.ts';
import { MAIL_TEMPLATES, mailVarsSchema } from './templates.ts';

const payloadSchema = z.object({
  template: z.enum(MAIL_TEMPLATES),
  to: z.string().min(3).max(254),
  tenantId: z.uuid().nullable(),
  vars: mailVarsSchema,
});

export const MAIL_JOBS: readonly JobDefinition[] = [
  defineJob({
    name: MAIL_JOB,
    payload: payloadSchema,
    maxAttempts: 10,
    run: (payload, ctx) => sendNow(ctx, payload),
  }),
];
