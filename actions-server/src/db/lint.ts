// The database shape lint (in the manner of Supabase's splinter): one SQL file per
// rule under sql/lint/, each returning the objects that break it, so isolation and
// Citus-readiness do not depend on every migration author remembering every rule.
// Known exceptions live in sql/lint/exceptions.yaml, each with its reason; an
// exception that no longer matches anything is reported too, so none outlives
// its object silently.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Client, Pool } from './tx.ts';

export const LINT_DIR = path.resolve(import.meta.dirname, '../../../sql/lint');

export interface LintRule {
  name: string;
  sql: string;
}

export interface LintViolation {
  rule: string;
  object: string;
  detail: string;
}

export interface LintException {
  rule: string;
  object: string;
  reason: string;
}

/** What the lint looked at, so a run that saw nothing cannot pass unnoticed. */
export interface LintScope {
  schemas: string[];
  tables: number;
  functions: number;
  roles: string[];
}

export interface LintReport {
  violations: LintViolation[];
  excepted: (LintViolation & { reason: string })[];
  unusedExceptions: LintException[];
  scope: LintScope;
}

const exceptionsFile = z
  .object({
    exceptions: z
      .array(
        z
          .object({
            rule: z.string().min(1),
            object: z.string().min(1),
            reason: z.string().min(20, 'say why the exception is safe'),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export async function loadLintRules(dir = LINT_DIR): Promise<{ scope: string; rules: LintRule[] }> {
  const files = (await readdir(dir)).filter((f) => /^[a-z][a-z0-9_]*\.sql$/.test(f)).sort();
  const rules = await Promise.all(
    files.map(async (f) => ({ name: f.slice(0, -'.sql'.length), sql: await readFile(path.join(dir, f), 'utf8') })),
  );
  return { scope: await readFile(path.join(dir, '_scope.sql'), 'utf8'), rules };
}

export async function loadLintExceptions(dir = LINT_DIR): Promise<LintException[]> {
  const file = path.join(dir, 'exceptions.yaml');
  const parsed = exceptionsFile.safeParse(parseYaml(await readFile(file, 'utf8')) ?? {});
  if (!parsed.success) {
    throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const known = new Set((await loadLintRules(dir)).rules.map((r) => r.name));
  const unknown = parsed.data.exceptions.filter((e) => !known.has(e.rule));
  if (unknown.length) throw new Error(`${file}: unknown rule(s) ${unknown.map((e) => e.rule).join(', ')}`);
  return parsed.data.exceptions;
}

const byRuleObject = (a: LintViolation, b: LintViolation): number =>
  a.rule.localeCompare(b.rule) || a.object.localeCompare(b.object) || a.detail.localeCompare(b.detail);

/**
 * Runs every rule inside the caller's transaction (within a savepoint that is
 * rolled back, so the scope's temporary views do not outlive the call) and
 * returns every violation, exceptions not applied.
 */
export async function collectViolations(
  client: Client,
  opts: { dir?: string } = {},
): Promise<{ violations: LintViolation[]; scope: LintScope }> {
  const { scope, rules } = await loadLintRules(opts.dir);
  await client.query('savepoint shape_lint');
  try {
    // Catalog names print unqualified only for pg_catalog, whatever the caller's search_path.
    await client.query('set local search_path = pg_catalog, pg_temp');
    await client.query(scope);
    const violations: LintViolation[] = [];
    for (const rule of rules) {
      const { rows } = await client.query<{ object: string; detail: string }>(
        `select object::text, detail::text from (\n${rule.sql.trim().replace(/;$/, '')}\n) v`,
      );
      for (const row of rows) violations.push({ rule: rule.name, object: row.object, detail: row.detail });
    }
    const seen = (
      await client.query<LintScope>(`
        select (select array_agg(nspname::text order by nspname) from pg_temp.lint_schemas) as schemas,
               (select count(*)::int from pg_temp.lint_tables) as tables,
               (select count(*)::int from pg_temp.lint_functions) as functions,
               (select coalesce(array_agg(rolname::text order by rolname), '{}') from pg_temp.lint_roles) as roles`)
    ).rows[0]!;
    return { violations: violations.sort(byRuleObject), scope: { ...seen, schemas: seen.schemas ?? [] } };
  } finally {
    await client.query('rollback to savepoint shape_lint');
    await client.query('release savepoint shape_lint');
  }
}

export function applyExceptions(violations: LintViolation[], exceptions: LintException[]): Omit<LintReport, 'scope'> {
  const key = (v: { rule: string; object: string }) => `${v.rule}\u0000${v.object}`;
  const reasons = new Map(exceptions.map((e) => [key(e), e.reason]));
  const used = new Set<string>();
  const report: Omit<LintReport, 'scope'> = { violations: [], excepted: [], unusedExceptions: [] };
  for (const v of violations) {
    const reason = reasons.get(key(v));
    if (reason === undefined) {
      report.violations.push(v);
    } else {
      used.add(key(v));
      report.excepted.push({ ...v, reason });
    }
  }
  report.unusedExceptions = exceptions.filter((e) => !used.has(key(e)));
  return report;
}

/** Lints the database behind `pool` in a transaction that is rolled back; nothing is changed. */
export async function lintDatabase(pool: Pool, opts: { dir?: string } = {}): Promise<LintReport> {
  const exceptions = await loadLintExceptions(opts.dir);
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { violations, scope } = await collectViolations(client, opts);
    return { ...applyExceptions(violations, exceptions), scope };
  } finally {
    await client.query('rollback').catch(() => undefined);
    client.release();
  }
}

export function formatLintReport(report: Pick<LintReport, 'violations' | 'unusedExceptions'>): string {
  const lines = report.violations.map((v) => `  ${v.rule}: ${v.object} (${v.detail})`);
  if (report.unusedExceptions.length) {
    lines.push('exceptions in sql/lint/exceptions.yaml that match nothing (remove them):');
    lines.push(...report.unusedExceptions.map((e) => `  ${e.rule}: ${e.object}`));
  }
  return lines.length ? `database lint failed:\n${lines.join('\n')}` : 'database lint passed';
}
