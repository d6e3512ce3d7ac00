// Every job the runner knows. An area adds its own list here.
import type { JobDefinition } from './types.ts';
import { METERING_JOBS } from '../metering/jobs.ts';
import { WEBHOOK_JOBS } from '../webhooks/jobs.ts';

export const JOBS: readonly JobDefinition[] = [...METERING_JOBS, ...WEBHOOK_JOBS];
