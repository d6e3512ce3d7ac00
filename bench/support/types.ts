// The shape every benchmark shares: it declares its rows up front (so the table
// always has every row, measured or not), measures baseline and project in the
// same run, and records correctness checks (exact totals, exactly-once) that
// the smoke test asserts. Speed is never asserted anywhere.
import type { BenchCluster } from './cluster.ts';

export type Scale = 'tiny' | 'default' | 'full';

/** How a row's figure is judged. `ratio` is always project / baseline. */
export type Target =
  | { kind: 'ratio'; op: '<=' | '>='; limit: number }
  | { kind: 'absolute'; op: '<' | '<=' | '>=' | '='; limit: number; unit: string }
  | { kind: 'info'; text: string };

export interface RowSpec {
  /** Stable id within the benchmark, e.g. `req-s` or `ms-per-tenant@1000`. */
  id: string;
  metric: string;
  unit: string;
  target: Target;
}

export type Measurement = { baseline: number | null; project: number | null; note?: string } | { notMeasured: string };

export interface Check {
  name: string;
  ok: boolean;
  expected: string;
  actual: string;
}

export interface RunContext {
  scale: Scale;
  cluster: BenchCluster;
  /** Progress on stderr; the table is the only thing on stdout. */
  progress(message: string): void;
  /** Records a correctness check; a failed one fails the run (and the smoke test). */
  check(name: string, expected: unknown, actual: unknown): boolean;
}

export interface Benchmark {
  name: string;
  title: string;
  rows(scale: Scale): RowSpec[];
  /** Returns a measurement for every row id of rows(scale). */
  run(ctx: RunContext): Promise<Record<string, Measurement>>;
}

export interface RowResult {
  benchmark: string;
  id: string;
  metric: string;
  unit: string;
  baseline: number | null;
  project: number | null;
  ratio: number | null;
  target: string;
  /** null: informational row, or not measured. */
  met: boolean | null;
  status: 'measured' | 'not measured' | 'failed';
  note: string | null;
}

export interface BenchmarkResult {
  name: string;
  title: string;
  durationMs: number;
  rows: RowResult[];
  checks: Check[];
  error: string | null;
}

/** Thrown (or returned per row) when the code a benchmark measures is not in the tree or cannot run here. */
export class NotMeasured extends Error {
  override readonly name = 'NotMeasured';
}

/** Picks the size for the current scale; `full` falls back to `default`. */
export function sized<T>(scale: Scale, sizes: { tiny: T; default: T; full?: T }): T {
  switch (scale) {
    case 'tiny':
      return sizes.tiny;
    case 'default':
      return sizes.default;
    case 'full':
      return sizes.full ?? sizes.default;
    default: {
      const never: never = scale;
      throw new Error(`unknown scale ${String(never)}`);
    }
  }
}

export function targetText(target: Target): string {
  switch (target.kind) {
    case 'ratio':
      return `${target.op === '<=' ? '≤' : '≥'} ${target.limit}×`;
    case 'absolute':
      return `${{ '<': '<', '<=': '≤', '>=': '≥', '=': '=' }[target.op]} ${target.limit} ${target.unit}`;
    case 'info':
      return target.text;
    default: {
      const never: never = target;
      throw new Error(`unknown target ${JSON.stringify(never)}`);
    }
  }
}

function compare(value: number, op: '<' | '<=' | '>=' | '=', limit: number): boolean {
  switch (op) {
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>=':
      return value >= limit;
    case '=':
      return value === limit;
    default: {
      const never: never = op;
      throw new Error(`unknown operator ${String(never)}`);
    }
  }
}

/** Turns a declared row and its measurement into the printed/JSON row. */
export function judge(benchmark: string, spec: RowSpec, m: Measurement | undefined): RowResult {
  const base = { benchmark, id: spec.id, metric: spec.metric, unit: spec.unit, target: targetText(spec.target) };
  if (!m) {
    return { ...base, baseline: null, project: null, ratio: null, met: null, status: 'failed', note: 'no measurement returned' };
  }
  if ('notMeasured' in m) {
    return { ...base, baseline: null, project: null, ratio: null, met: null, status: 'not measured', note: m.notMeasured };
  }
  const ratio = m.baseline !== null && m.project !== null && m.baseline !== 0 ? m.project / m.baseline : null;
  let met: boolean | null = null;
  if (spec.target.kind === 'ratio' && ratio !== null) met = compare(ratio, spec.target.op, spec.target.limit);
  if (spec.target.kind === 'absolute' && m.project !== null) met = compare(m.project, spec.target.op, spec.target.limit);
  return { ...base, baseline: m.baseline, project: m.project, ratio, met, status: 'measured', note: m.note ?? null };
}
