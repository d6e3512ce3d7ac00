// Every job the runner knows. An area adds its own list here.
import type { JobDefinition } from './types.ts';

export const JOBS: readonly JobDefinition[] = [];
