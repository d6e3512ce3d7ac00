// One side of the tenant-export benchmark, run in a child process
// (export-worker.ts) so its peak RSS is that work's alone: in the benchmark
// process it would also count the heap every earlier benchmark left behind.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { runChild } from './child.ts';

export const exportJobSchema = z.discriminatedUnion('mode', [
  /** A bare `COPY <relation> TO STDOUT` into a sink. */
  z.object({ mode: z.literal('copy'), url: z.string(), relation: z.string() }),
  /** The project's whole export of a tenant to `out`. */
  z.object({ mode: z.literal('export'), url: z.string(), tenantId: z.uuid(), out: z.string() }),
]);
export type ExportJob = z.infer<typeof exportJobSchema>;

const exportRunSchema = z.object({
  ms: z.number(),
  /** Peak RSS of the child, sampled every 20 ms. */
  peakMb: z.number(),
  /** Messages read (copy) or counted in the manifest (export). */
  rows: z.number(),
});
export type ExportRun = z.infer<typeof exportRunSchema>;

const WORKER = fileURLToPath(new URL('./export-worker.ts', import.meta.url));

export function runExportJob(job: ExportJob): Promise<ExportRun> {
  return runChild(WORKER, exportJobSchema.parse(job), exportRunSchema);
}
