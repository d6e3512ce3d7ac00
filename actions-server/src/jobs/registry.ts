// Every job the runner knows. An area adds its own list here.
import type { JobDefinition } from './types.ts';
import { HASURA_JOBS } from '../hasura/jobs.ts';

export const JOBS: readonly JobDefinition[] = [...HASURA_JOBS];
