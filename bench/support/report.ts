// The one table printed at the end of a run, and the JSON written beside it.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { BenchmarkResult, RowResult, Scale } from './types.ts';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  platform: string;
  node: string;
  postgres: string;
  redis: string | null;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverageAtStart: number;
  commit: string | null;
}

export interface RunReport {
  generatedAt: string;
  command: string;
  scale: Scale;
  machine: Machine;
  durationMs: number;
  benchmarks: BenchmarkResult[];
}

export function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

export function machineInfo(postgres: string, redis: string | null): Machine {
  return {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryBytes: os.totalmem(),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres,
    redis,
    loadAverageAtStart: os.loadavg()[0] ?? 0,
    commit: gitCommit(),
  };
}

export function machineLine(m: Machine): string {
  const gib = (m.memoryBytes / 1024 ** 3).toFixed(1);
  return (
    `${m.cores} cores (${m.cpuModel}), ${gib} GiB, ${m.platform}, Node ${m.node}, PostgreSQL ${m.postgres}` +
    `${m.redis ? `, Redis ${m.redis}` : ''}, load average ${m.loadAverageAtStart.toFixed(2)} at start`
  );
}

export function formatNumber(value: number | null): string {
  if (value === null || Number.isNaN(value)) return '—';
  const abs = Math.abs(value);
  const digits = Number.isInteger(value) || abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function cells(r: RowResult): string[] {
  const withUnit = (v: number | null) => (v === null ? '—' : `${formatNumber(v)} ${r.unit}`);
  const result =
    r.status === 'not measured'
      ? `not measured: ${r.note ?? ''}`
      : r.status === 'failed'
        ? `failed: ${r.note ?? ''}`
        : r.met === null
          ? 'info'
          : r.met
            ? 'met'
            : 'NOT MET';
  return [
    r.benchmark,
    r.metric,
    withUnit(r.baseline),
    withUnit(r.project),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`,
    r.target,
    result,
  ];
}

/** A Markdown table (readable in a terminal, pasteable into README). */
export function renderTable(results: BenchmarkResult[]): string {
  const header = ['benchmark', 'metric', 'baseline', 'project', 'ratio', 'target', 'result'];
  const body = results.flatMap((b) => b.rows.map(cells));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

export function renderNotes(results: BenchmarkResult[]): string {
  const lines: string[] = [];
  for (const b of results) {
    for (const r of b.rows) if (r.status === 'measured' && r.note) lines.push(`- ${b.name} / ${r.metric}: ${r.note}`);
    for (const c of b.checks) lines.push(`- ${c.ok ? 'ok  ' : 'FAIL'} ${b.name}: ${c.name} (expected ${c.expected}, got ${c.actual})`);
    if (b.error) lines.push(`- ERROR ${b.name}: ${b.error}`);
  }
  return lines.join('\n');
}

export async function writeReport(file: string, report: RunReport): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}
