// `npm run chaos -- --seconds N`: the chaos check (see harness.ts), printed as
// a table; exits 1 when an invariant failed.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { renderReport, runChaos } from './harness.ts';

const ms = (name: string, fallback: number) => z.coerce.number().int().min(100).default(fallback).describe(name);
const Options = z.object({
  seconds: z.coerce.number().int().min(1).max(3_600).default(90),
  killEveryMs: ms('CHAOS_KILL_EVERY_MS', 12_000),
  terminateEveryMs: ms('CHAOS_TERMINATE_EVERY_MS', 3_000),
  workers: z.coerce.number().int().min(1).max(64).default(6),
});

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log('usage: npm run chaos -- --seconds N   (CHAOS_KILL_EVERY_MS, CHAOS_TERMINATE_EVERY_MS, CHAOS_WORKERS, DATABASE_URL)');
    return 0;
  }
  const parsed = Options.safeParse({
    seconds: values.seconds,
    killEveryMs: process.env['CHAOS_KILL_EVERY_MS'] || undefined,
    terminateEveryMs: process.env['CHAOS_TERMINATE_EVERY_MS'] || undefined,
    workers: process.env['CHAOS_WORKERS'] || undefined,
  });
  if (!parsed.success) {
    console.error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'));
    return 2;
  }
  const report = await runChaos({
    ...parsed.data,
    progress: (m) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${m}\n`),
  });
  console.log(renderReport(report));
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
