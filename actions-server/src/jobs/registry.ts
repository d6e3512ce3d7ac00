// Every job the runner knows. An area adds its own list here.
import type { JobDefinition } from './types.ts';
import { MAIL_JOBS } from '../mail/jobs.ts';
import { AUTH_JOBS } from '../auth/jobs.ts';

export const JOBS: readonly JobDefinition[] = [...MAIL_JOBS, ...AUTH_JOBS];
