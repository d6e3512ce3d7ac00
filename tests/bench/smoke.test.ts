// Keeps bench/ from rotting: every benchmark runs at BENCH_SCALE=tiny against
// real PostgreSQL (and Redis when REDIS_URL is set) and must produce every row
// of its table and pass its correctness checks (exact totals, exactly-once).
// Speed is never asserted here: figures come from `npm run bench`.
import { beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runBenchmarks } from '../../bench/harness.ts';
import { BENCHMARKS } from '../../bench/benchmarks.ts';
import type { RunReport } from '../../bench/support/report.ts';

let report: RunReport;

beforeAll(async () => {
  report = await runBenchmarks({
    scale: 'tiny',
    names: [],
    cluster: { adminUrl: inject('pgAdminUrl'), template: inject('pgTemplate') },
  });
}, 300_000);

describe('npm run bench at BENCH_SCALE=tiny', () => {
  it('runs every benchmark without an error', () => {
    expect(report.benchmarks.map((b) => b.name)).toEqual(BENCHMARKS.map((b) => b.name));
    expect(report.benchmarks.filter((b) => b.error !== null).map((b) => `${b.name}: ${b.error}`)).toEqual([]);
  });

  it('prints every declared row, measured or with the reason it was not', () => {
    for (const bench of BENCHMARKS) {
      const result = report.benchmarks.find((b) => b.name === bench.name)!;
      expect(result.rows.map((r) => r.id)).toEqual(bench.rows('tiny').map((r) => r.id));
      for (const row of result.rows) {
        expect(row.status, `${bench.name}/${row.id}: ${row.note ?? ''}`).not.toBe('failed');
        if (row.status === 'measured') expect(row.project, `${bench.name}/${row.id}`).not.toBeNull();
        else expect(row.note, `${bench.name}/${row.id}`).toMatch(/\S/);
      }
    }
  });

  it('passes every correctness check (exact totals, exactly-once), and every measured benchmark has some', () => {
    const failed = report.benchmarks.flatMap((b) =>
      b.checks.filter((c) => !c.ok).map((c) => `${b.name}: ${c.name}: expected ${c.expected}, got ${c.actual}`),
    );
    expect(failed).toEqual([]);
    for (const b of report.benchmarks) {
      if (b.rows.some((r) => r.status === 'measured')) expect(b.checks.length, b.name).toBeGreaterThan(0);
    }
  });

  it('records the machine the figures come from', () => {
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.postgres).toMatch(/^\d+/);
    expect(report.machine.node).toBe(process.version);
  });
});
