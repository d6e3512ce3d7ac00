// Schema-per-tenant is only real if it can be upgraded: 200 tenants, a new
// template version, the runner SIGKILLed half way, then rerun.
import { spawn } from 'node:child_process';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDb, useTestDb } from '../support/db.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { latestVersion, loadTemplate, TEMPLATE_DIR } from '../../actions-server/src/tenants/template.ts';
import { migrateTenantSchemas } from '../../actions-server/src/tenants/template-migrate.ts';

const NEXT = 9001;
let dir: string;
let current: number;

async function templateWithNextVersion(sql: string): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'template-next-'));
  await cp(TEMPLATE_DIR, d, { recursive: true });
  await writeFile(path.join(d, `${NEXT}_pins.sql`), sql);
  return d;
}

function runCli(args: string[]): { done: Promise<number>; kill: () => void } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'actions-server/src/cli/main.ts', ...args], {
    env: { ...process.env, DATABASE_URL: fx.db.url, TENANT_ROLE_PREFIX: fx.db.rolePrefix, LOG_LEVEL: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const done = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => {
      if (code && code !== 0) console.error(stderr);
      resolve(code ?? (signal ? -1 : 0));
    }),
  );
  return { done, kill: () => child.kill('SIGKILL') };
}

const countAt = async (v: number) =>
  Number((await fx.db.pool.query<{ n: string }>('select count(*) n from public.tenants where template_version = $1', [v])).rows[0]!.n);

const fx = useTestDb();
beforeAll(async () => {
  current = latestVersion(await loadTemplate());
  // A slow step (pg_sleep) so the kill lands half way on any machine.
  dir = await templateWithNextVersion(`
    alter table channels add column topic text;
    create table pins (
      id uuid primary key default gen_random_uuid(),
      message_id uuid not null references messages (id) on delete cascade,
      created_at timestamptz not null default now()
    );
    select pg_sleep(0.02);
  `);
});

describe('npm run tenants:migrate', () => {
  it('upgrades 200 tenants; killed half way and rerun, every schema ends on the new version', async () => {
    const slugs = Array.from({ length: 200 }, (_, i) => `t${String(i).padStart(3, '0')}`);
    for (let i = 0; i < slugs.length; i += 8) await Promise.all(slugs.slice(i, i + 8).map((s) => makeTenant(fx.db, s)));
    expect(await countAt(current)).toBe(200);

    const first = runCli(['tenants', 'migrate', '--template-dir', dir, '--concurrency', '2']);
    try {
      await vi.waitUntil(async () => (await countAt(NEXT)) >= 20, { timeout: 60_000, interval: 25 });
    } finally {
      first.kill();
    }
    expect(await first.done).toBe(-1);
    const afterKill = await countAt(NEXT);
    expect(afterKill).toBeGreaterThanOrEqual(20);
    expect(afterKill).toBeLessThan(200);

    // No tenant is half-migrated: its recorded version matches its tables.
    const consistency = await fx.db.pool.query<{ slug: string; template_version: string; has_pins: boolean }>(
      `select t.slug, t.template_version, to_regclass(format('%I.pins', t.schema_name)) is not null as has_pins
       from public.tenants t`,
    );
    for (const r of consistency.rows) expect(r.has_pins, r.slug).toBe(Number(r.template_version) === NEXT);

    const second = runCli(['tenants', 'migrate', '--template-dir', dir, '--concurrency', '4']);
    expect(await second.done).toBe(0);
    expect(await countAt(NEXT)).toBe(200);

    // The new table got the same guard as the rest: RLS forced, the tenant's role only.
    const guard = await fx.db.pool.query<{ n: string }>(
      `select count(*) n from public.tenants t
       join pg_class c on c.oid = to_regclass(format('%I.pins', t.schema_name))
       where c.relrowsecurity and c.relforcerowsecurity
         and has_table_privilege(t.db_role, c.oid, 'insert')
         and not has_table_privilege('app', c.oid, 'select')`,
    );
    expect(Number(guard.rows[0]!.n)).toBe(200);
  }, 240_000);

  it('reports a failing tenant and upgrades the others', async () => {
    const fresh = await createTestDb();
    try {
      const made: MadeTenant[] = [];
      for (const s of ['ok-one', 'broken', 'ok-two']) made.push(await makeTenant(fresh, s));
      // Someone created a conflicting table by hand in one tenant.
      await fresh.pool.query('create table tenant_broken.pins (id int)');
      const report = await migrateTenantSchemas({ pool: fresh.pool, concurrency: 2, templateDir: dir });
      expect(report.failed.map((f) => f.slug)).toEqual(['broken']);
      expect(report.failed[0]!.error).toMatch(/already exists/);
      expect(report.upgraded.sort()).toEqual(['ok-one', 'ok-two']);
      const versions = await fresh.pool.query<{ slug: string; template_version: string }>(
        'select slug, template_version from public.tenants order by slug',
      );
      expect(versions.rows).toEqual([
        { slug: 'broken', template_version: String(current) },
        { slug: 'ok-one', template_version: String(NEXT) },
        { slug: 'ok-two', template_version: String(NEXT) },
      ]);
      // rerun after the fix finishes the rest, and only the rest
      await fresh.pool.query('drop table tenant_broken.pins');
      const rerun = await migrateTenantSchemas({ pool: fresh.pool, concurrency: 2, templateDir: dir });
      expect(rerun).toMatchObject({ upgraded: ['broken'], failed: [], total: 1 });
    } finally {
      await fresh.close();
    }
  });
});
