// Closed-loop HTTP load with autocannon (N connections, each sending its next
// request when the last one answered), run in a child process against
// 127.0.0.1 only. A run lasts `durationSeconds`, or until exactly `amount`
// requests were answered (when the server's own count must be checked).
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { runChild } from './child.ts';

export const cannonOptionsSchema = z
  .object({
    url: z.url().refine((u) => new URL(u).hostname === '127.0.0.1', 'load goes to 127.0.0.1 only'),
    connections: z.number().int().min(1),
    durationSeconds: z.number().positive().optional(),
    amount: z.number().int().positive().optional(),
    method: z.enum(['GET', 'POST']),
    headers: z.record(z.string(), z.string()),
    body: z.string().optional(),
    /** Bodies sent in turn across all connections (instead of one body). */
    bodies: z.array(z.string()).min(1).optional(),
  })
  .refine((o) => (o.durationSeconds === undefined) !== (o.amount === undefined), 'give durationSeconds or amount');
export type CannonOptions = z.infer<typeof cannonOptionsSchema>;

const cannonResultSchema = z.object({
  /** Answered requests over the run's wall time. */
  requestsPerSecond: z.number(),
  total: z.number(),
  /** Milliseconds; autocannon's histogram resolves whole milliseconds. */
  p50: z.number(),
  p99: z.number(),
  ok2xx: z.number(),
  non2xx: z.number(),
  errors: z.number(),
  timeouts: z.number(),
});
export type CannonResult = z.infer<typeof cannonResultSchema>;

const WORKER = fileURLToPath(new URL('./cannon-worker.ts', import.meta.url));

export function runCannon(options: CannonOptions): Promise<CannonResult> {
  return runChild(WORKER, cannonOptionsSchema.parse(options), cannonResultSchema);
}

export interface HttpComparison {
  baseline: CannonResult;
  project: CannonResult;
  /** Every run of both sides, the warm-up first when there was one (its requests reached the server too). */
  rounds: { baseline: CannonResult; project: CannonResult }[];
}

/**
 * Baseline and project under the same load, alternating (B, P, B, P, ...) after
 * a short warm-up of each (JIT, caches, connection pools). Each round's two
 * runs are a pair that met the same conditions; the pair with the median
 * throughput ratio is reported, its latencies with it. On a shared machine a
 * round that other work disturbed moves its own pair's ratio, not the figure,
 * where the best run of each side could come from two different moments.
 */
export async function compareHttp(opts: {
  baseline: CannonOptions;
  project: CannonOptions;
  rounds: number;
  /** A shorter first run of each side, not reported. */
  warmup?: { durationSeconds: number; amount?: undefined } | { amount: number; durationSeconds?: undefined };
}): Promise<HttpComparison> {
  const rounds: HttpComparison['rounds'] = [];
  const warmup = opts.warmup;
  if (warmup) {
    const length = { durationSeconds: warmup.durationSeconds, amount: warmup.amount };
    rounds.push({ baseline: await runCannon({ ...opts.baseline, ...length }), project: await runCannon({ ...opts.project, ...length }) });
  }
  for (let i = 0; i < opts.rounds; i++) {
    const baseline = await runCannon(opts.baseline);
    const project = await runCannon(opts.project);
    rounds.push({ baseline, project });
  }
  const measured = warmup ? rounds.slice(1) : rounds;
  const ratio = (r: (typeof measured)[number]) => r.project.requestsPerSecond / r.baseline.requestsPerSecond;
  // The lower median for an even count: never the more favourable of the middle two.
  const median = [...measured].sort((a, b) => ratio(a) - ratio(b))[Math.floor((measured.length - 1) / 2)]!;
  return { baseline: median.baseline, project: median.project, rounds };
}
