// Starts the longest files first. On a fresh checkout vitest has no durations
// cached and orders files by size, so a long file (subprocesses, whole-catalog
// lints, the bench smoke run) could start last and alone decide how long the
// suite takes on two cores.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const LONGEST = [
  'tests/shape/lint-rules.test.ts',
  'tests/cli/cli.test.ts',
  'tests/bench/smoke.test.ts',
  'tests/chaos/chaos.test.ts',
  'tests/tenants/template-migrate.test.ts',
  'tests/tenants/placement.test.ts',
  'tests/limits/limits.test.ts',
  'tests/tenants/database-tier.test.ts',
  'tests/lifecycle/shutdown.test.ts',
];

const rank = (spec: TestSpecification): number => {
  const i = LONGEST.findIndex((file) => spec.moduleId.endsWith(file));
  return i === -1 ? LONGEST.length : i;
};

export default class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b));
  }
}
