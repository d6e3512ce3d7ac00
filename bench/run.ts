// `npm run bench [-- <name> ...]`: runs the benchmarks of bench/README.md (all, or
// the named ones), prints one table and writes bench/results/latest.json.
// BENCH_SCALE=tiny|default|full (default: default, about 10 minutes on 2 cores).
import path from 'node:path';
import { z } from 'zod';
import { benchmarkNames, runBenchmarks } from './harness.ts';
import { machineLine, renderNotes, renderTable, writeReport } from './support/report.ts';

const RESULTS_FILE = path.resolve(import.meta.dirname, 'results/latest.json');
const scaleSchema = z.enum(['tiny', 'default', 'full']);

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: npm run bench [-- <name> ...]   (BENCH_SCALE=tiny|default|full)\nbenchmarks: ${benchmarkNames().join(', ')}`);
    return 0;
  }
  const scale = scaleSchema.safeParse(process.env['BENCH_SCALE'] || 'default');
  if (!scale.success) {
    console.error(`BENCH_SCALE must be tiny, default or full (got ${process.env['BENCH_SCALE']})`);
    return 2;
  }
  const names = argv.filter((a) => !a.startsWith('-'));
  const report = await runBenchmarks({
    scale: scale.data,
    names,
    command: `${scale.data === 'default' ? '' : `BENCH_SCALE=${scale.data} `}npm run bench${names.length ? ` -- ${names.join(' ')}` : ''}`,
    cleanupOnSignal: true,
    progress: (m) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`),
  });
  await writeReport(RESULTS_FILE, report);
  console.log(`\n${report.command}\n${machineLine(report.machine)}\n`);
  console.log(renderTable(report.benchmarks));
  const notes = renderNotes(report.benchmarks);
  if (notes) console.log(`\n${notes}`);
  console.log(`\n${(report.durationMs / 1000).toFixed(0)} s; figures written to ${path.relative(process.cwd(), RESULTS_FILE)}`);
  const broken = report.benchmarks.some((b) => b.error !== null || b.checks.some((c) => !c.ok));
  return broken ? 1 : 0;
}

// Runs finish with pools, listeners and child processes closed; exit explicitly
// anyway so a stray handle in code under test cannot keep the process alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
