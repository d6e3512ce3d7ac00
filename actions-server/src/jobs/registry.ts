// Every job the runner knows. An area adds its own list here.
import type { JobDefinition } from './types.ts';
import { PORTABILITY_JOBS } from '../portability/jobs.ts';
import { DOMAIN_JOBS } from '../domains/jobs.ts';
import { HASURA_JOBS } from '../hasura/jobs.ts';
import { BILLING_JOBS } from '../billing/jobs.ts';
import { TENANT_JOBS } from '../tenants/jobs.ts';
import { INVITATION_JOBS } from '../invitations/jobs.ts';
import { METERING_JOBS } from '../metering/jobs.ts';
import { WEBHOOK_JOBS } from '../webhooks/jobs.ts';
import { MAIL_JOBS } from '../mail/jobs.ts';
import { AUTH_JOBS } from '../auth/jobs.ts';

export const JOBS: readonly JobDefinition[] = [
  ...PORTABILITY_JOBS,
  ...DOMAIN_JOBS,
  ...HASURA_JOBS,
  ...BILLING_JOBS,
  ...TENANT_JOBS,
  ...INVITATION_JOBS,
  ...METERING_JOBS,
  ...WEBHOOK_JOBS,
  ...MAIL_JOBS,
  ...AUTH_JOBS,
];
