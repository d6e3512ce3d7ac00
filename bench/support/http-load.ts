// Closed-loop HTTP load with autocannon (N connections, each sending its next
// request when the last one answered), run in a child process against
// 127.0.0.1 only. A run lasts `durationSeconds`, or until exactly `amount`
// requests were answered (when the server's own count must be checked).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const cannonOptionsSchema = z
  .object({
    url: z.url().refine((u) => new URL(u).hostname === '127.0.0.1', 'load goes to 127.0.0.1 only'),
    connections: z.number().int().min(1),
    durationSeconds: z.number().positive().optional(),
    amount: z.number().int().positive().optional(),
    method: z.enum(['GET', 'POST']),
    headers: z.record(z.string(), z.string()),
    body: z.string().optional(),
    /** Bodies sent in turn by every connection (instead of one body). */
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
  const opts = cannonOptionsSchema.parse(options);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(opts)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited with ${code}: ${err.trim().slice(-500)}`));
      try {
        resolve(cannonResultSchema.parse(JSON.parse(out.trim().split('\n').at(-1) ?? '')));
      } catch (e) {
        reject(new Error(`autocannon output unreadable: ${(e as Error).message}: ${out.slice(-300)}`));
      }
    });
  });
}

export interface HttpComparison {
  baseline: CannonResult;
  project: CannonResult;
  /** Every run of both sides, the warm-up first when there was one (its requests reached the server too). */
  rounds: { baseline: CannonResult; project: CannonResult }[];
}

/**
 * Baseline and project under the same load, alternating (B, P, B, P, ...) so a
 * change in background load hits both; a short warm-up of each first (JIT,
 * caches, connection pools). Reports each side's best round (highest
 * throughput, with that round's latencies): on a shared machine the best of
 * several runs is the one least disturbed by other work.
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
  const pick = (side: 'baseline' | 'project'): CannonResult =>
    measured.map((r) => r[side]).reduce((best, r) => (r.requestsPerSecond > best.requestsPerSecond ? r : best));
  return { baseline: pick('baseline'), project: pick('project'), rounds };
}
