import { defineConfig } from 'vitest/config';
import LongestFirst from './tests/support/sequencer.ts';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Files share their worker's module cache (no test mocks modules or mutates the environment):
    // importing the server's module graph once per worker instead of once per file.
    isolate: false,
    maxWorkers: 4,
    sequence: { sequencer: LongestFirst },
    // argon2id at its 1 MiB floor in tests (servers spawned by tests inherit it): hashing is a cost
    // the suite pays hundreds of times, not a behaviour under test; production keeps 64 MiB.
    env: { PASSWORD_HASH_MEMORY_KIB: '1024' },
    reporters: ['default', './tests/support/summary-reporter.ts'],
  },
});
