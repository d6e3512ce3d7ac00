// The project's own database passes the shape lint: the migrated registry plus
// one provisioned schema tenant and one pooled tenant (its rows in the pooled
// tables). A failure lists every violation as `rule: object (detail)`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyExceptions, formatLintReport, lintDatabase, loadLintExceptions, type LintReport } from '../../actions-server/src/db/lint.ts';
import { useTestDb } from '../support/db.ts';
import { makeTenant } from '../support/factories.ts';
import type { TenantRow } from '../../actions-server/src/tenants/records.ts';

let role: string;
let pooled: TenantRow;
let report: LintReport;

const fx = useTestDb();
beforeAll(async () => {
  const { tenant } = await makeTenant(fx.db, 'shapeco');
  role = tenant.db_role!;
  pooled = (await makeTenant(fx.db, 'pooledco', { isolation: 'pooled' })).tenant;
  report = await lintDatabase(fx.db.pool);
});

it('looked at the registry, the tenant schema, the pooled tables and every request role', async () => {
  expect(report.scope.schemas).toEqual(expect.arrayContaining(['public', 'pooled', 'tenant_shapeco']));
  expect(report.scope.roles).toEqual(expect.arrayContaining(['app', 'hasura', role]));
  expect(report.scope.tables).toBeGreaterThanOrEqual(13); // 5 registry tables + 4 template tables + 4 pooled tables at least
  expect(report.scope.functions).toBeGreaterThan(0);
  // The pooled tenant is rows in those tables, with no schema or role of its own.
  expect(pooled).toMatchObject({ isolation: 'pooled', schema_name: null, db_role: null });
  expect((await fx.db.pool.query('select 1 from pooled.members where tenant_id = $1', [pooled.id])).rowCount).toBe(1);
});

it('finds no violation and no stale exception', () => {
  expect(report.violations, formatLintReport(report)).toEqual([]);
  expect(report.unusedExceptions, formatLintReport(report)).toEqual([]);
});

describe('exceptions', () => {
  const violation = { rule: 'int_id', object: 'public.widgets.id', detail: 'integer id column' };

  it('moves an excepted violation aside with its reason and reports exceptions that match nothing', () => {
    const stale = { rule: 'int_id', object: 'public.gone.id', reason: 'the table was dropped long ago' };
    const kept = { rule: 'int_id', object: 'public.widgets.id', reason: 'legacy ids kept for an import' };
    expect(applyExceptions([violation], [kept, stale])).toEqual({
      violations: [],
      excepted: [{ ...violation, reason: kept.reason }],
      unusedExceptions: [stale],
    });
    expect(applyExceptions([violation], []).violations).toEqual([violation]);
  });

  it('refuses an exception without a reason or naming an unknown rule', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'lint-exceptions-'));
    try {
      await writeFile(path.join(dir, '_scope.sql'), '');
      await writeFile(path.join(dir, 'int_id.sql'), 'select 1');
      await writeFile(path.join(dir, 'exceptions.yaml'), 'exceptions:\n  - rule: int_id\n    object: public.widgets.id\n');
      await expect(loadLintExceptions(dir)).rejects.toThrow(/reason/);
      await writeFile(
        path.join(dir, 'exceptions.yaml'),
        'exceptions:\n  - rule: no_such_rule\n    object: x\n    reason: a reason long enough to pass\n',
      );
      await expect(loadLintExceptions(dir)).rejects.toThrow(/unknown rule\(s\) no_such_rule/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
