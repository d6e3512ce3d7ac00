// Timing and summary statistics. Latencies are kept in milliseconds as floats
// (performance.now), so sub-millisecond figures keep their precision.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LatencySummary {
  p50: number;
  p99: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Wall time of fn in milliseconds, with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await fn();
  return { ms: performance.now() - start, result };
}

/** Runs `items` through `worker` with at most `concurrency` in flight. */
export async function forEachLimit<T>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await worker(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
}

export interface OpenLoopResult {
  latency: LatencySummary;
  /** Calls actually completed per second over the run. */
  achievedPerSecond: number;
  errors: number;
  firstError: string | null;
}

/**
 * Open-loop load: call i is issued at start + i / rate (in ~1 ms batches, the
 * timer granularity) whether or not earlier calls have finished, so a slow
 * system under test faces the same arrival rate as a fast one. Latency runs from
 * the moment a call is issued: measuring from its ideal due time instead would
 * add the generator's own timer granularity (up to ~1 ms) to every sample and
 * drown sub-millisecond figures.
 */
export async function openLoop(opts: {
  ratePerSecond: number;
  durationMs: number;
  call: (i: number) => Promise<unknown>;
}): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.round((opts.ratePerSecond * opts.durationMs) / 1000));
  const interval = 1000 / opts.ratePerSecond;
  const latencies = new Array<number>(total);
  const inFlight: Promise<void>[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  let issued = 0;
  while (issued < total) {
    const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
    for (; issued < due; issued++) {
      const i = issued;
      const t0 = performance.now();
      const done = (): void => {
        latencies[i] = performance.now() - t0;
      };
      inFlight.push(
        opts.call(i).then(done, (err: unknown) => {
          done();
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }),
      );
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  const elapsed = performance.now() - start;
  return { latency: summarize(latencies), achievedPerSecond: (total / elapsed) * 1000, errors, firstError };
}
