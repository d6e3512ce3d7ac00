// Runs benchmarks against one cluster and collects their rows and checks. The
// CLI (run.ts) prints and writes the result; the smoke test asserts on it.
import { isDeepStrictEqual } from 'node:util';
import { performance } from 'node:perf_hooks';
import { BENCHMARKS } from './benchmarks.ts';
import { openCluster, type ClusterOptions } from './support/cluster.ts';
import { machineInfo, type RunReport } from './support/report.ts';
import { judge, NotMeasured, type BenchmarkResult, type Check, type Measurement, type Scale } from './support/types.ts';
import { redisVersion } from './support/redis.ts';

export interface RunOptions {
  scale: Scale;
  /** Benchmark names; empty = all. */
  names: string[];
  cluster?: ClusterOptions;
  command?: string;
  progress?: (message: string) => void;
  /** CLI only: on Ctrl-C, drop this run's databases and roles before exiting. */
  cleanupOnSignal?: boolean;
}

export function benchmarkNames(): string[] {
  return BENCHMARKS.map((b) => b.name);
}

export async function runBenchmarks(opts: RunOptions): Promise<RunReport> {
  const unknown = opts.names.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${benchmarkNames().join(', ')}`);
  const selected = opts.names.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => opts.names.includes(b.name));
  const progress = opts.progress ?? (() => undefined);
  const started = performance.now();
  const cluster = await openCluster(opts.cluster);
  const onSignal = (): void => {
    progress("interrupted: dropping this run's databases and roles");
    void cluster.close().finally(() => process.exit(130));
  };
  if (opts.cleanupOnSignal) process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const machine = machineInfo(await cluster.postgresVersion(), cluster.redisUrl ? await redisVersion(cluster.redisUrl) : null);
    const results: BenchmarkResult[] = [];
    for (const bench of selected) {
      const checks: Check[] = [];
      const specs = bench.rows(opts.scale);
      const t0 = performance.now();
      let measured: Record<string, Measurement> = {};
      let error: string | null = null;
      progress(`${bench.name}: ${bench.title}`);
      try {
        measured = await bench.run({
          scale: opts.scale,
          cluster,
          progress: (m) => progress(`  ${bench.name}: ${m}`),
          check(name, expected, actual) {
            const ok = isDeepStrictEqual(expected, actual);
            checks.push({ name, ok, expected: JSON.stringify(expected), actual: JSON.stringify(actual) });
            return ok;
          },
        });
      } catch (err) {
        if (err instanceof NotMeasured) {
          measured = Object.fromEntries(specs.map((s) => [s.id, { notMeasured: err.message }]));
        } else {
          error = err instanceof Error ? (err.stack ?? err.message) : String(err);
          progress(`  ${bench.name} failed: ${error}`);
        }
      }
      const rows = specs.map((spec) => judge(bench.name, spec, measured[spec.id]));
      if (error) for (const r of rows) if (r.status !== 'measured') r.note = error.split('\n')[0] ?? error;
      // A figure from a run that got something wrong meets nothing.
      if (checks.some((c) => !c.ok)) {
        for (const r of rows) {
          if (r.met === null) continue;
          r.met = false;
          r.note = `a correctness check failed${r.note ? `; ${r.note}` : ''}`;
        }
      }
      results.push({ name: bench.name, title: bench.title, durationMs: performance.now() - t0, rows, checks, error });
    }
    return {
      generatedAt: new Date().toISOString(),
      command: opts.command ?? 'npm run bench',
      scale: opts.scale,
      machine,
      durationMs: performance.now() - started,
      benchmarks: results,
    };
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await cluster.close();
  }
}
