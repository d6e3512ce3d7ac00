// The operator CLI as a subprocess: every command answers --help, bad input
// exits 2 having changed nothing, and the commands that replace hand-written SQL
// (first platform admin, tenant status and plan) do what they say.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createTestDb, type TestDb } from '../support/db.ts';
import { runCli } from '../support/cli.ts';

let db: TestDb;
beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => {
  await db?.close();
});

/** Command paths listed under "Commands:" in a help text (without `help` itself). */
function subcommands(help: string): string[] {
  const section = help.split('Commands:')[1];
  if (!section) return [];
  return section
    .split('\n')
    .map((line) => /^ {2}([a-z][a-z-]*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
}

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

test('every command and subcommand answers --help with exit 0', async () => {
  const root = await runCli(undefined, ['--help']);
  expect(root.code).toBe(0);
  const groups = subcommands(root.stdout);
  expect(groups).toEqual(expect.arrayContaining(['migrate', 'tenants', 'admins', 'db']));
  const groupHelps = await inBatches(groups, 4, (g) => runCli(undefined, [g, '--help']));
  const leaves = groups.flatMap((g, i) => {
    expect(groupHelps[i]!.code, g).toBe(0);
    return subcommands(groupHelps[i]!.stdout).map((c) => [g, c]);
  });
  expect(leaves.length).toBeGreaterThan(10);
  const leafHelps = await inBatches(leaves, 4, (path) => runCli(undefined, [...path, '--help']));
  leafHelps.forEach((r, i) => {
    expect(r.code, leaves[i]!.join(' ')).toBe(0);
    expect(r.stdout).toContain(`Usage: cli ${leaves[i]!.join(' ')}`);
  });
}, 120_000);

test.each([
  [['tenants', 'migrate', '--concurrency', 'abc'], 'expected a whole number'],
  [['tenants', 'move', 'acme', '--to', 'nowhere'], 'Allowed choices are schema, pooled, database'],
  [['migrate', 'down', 'abc'], 'expected a whole number'],
  [['no-such-command'], "unknown command 'no-such-command'"],
  [['tenants', 'list', '--no-such-flag'], "unknown option '--no-such-flag'"],
])('bad input %j exits 2 with the reason', async (args, reason) => {
  const r = await runCli(db, args);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(reason);
});

test('the first platform admin is made by `admins create` with the password from the environment, never an argument', async () => {
  const made = await runCli(db, ['admins', 'create', 'root@platform.example.com', '--name', 'Root'], { ADMIN_PASSWORD: 'a long admin password' });
  expect(made.code, made.stderr).toBe(0);
  const { rows } = await db.pool.query<{ is_platform_admin: boolean; password_hash: string }>(
    'select is_platform_admin, password_hash from public.identities where email = $1',
    ['root@platform.example.com'],
  );
  expect(rows[0]?.is_platform_admin).toBe(true);
  expect(rows[0]?.password_hash).toMatch(/^\$argon2id\$/);
  const listed = await runCli(db, ['admins', 'list']);
  expect(listed.stdout).toContain('root@platform.example.com');
  // No password and no terminal: a usage error, nothing created.
  const refused = await runCli(db, ['admins', 'create', 'other@platform.example.com'], { ADMIN_PASSWORD: '' });
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('ADMIN_PASSWORD');
  expect((await db.pool.query('select 1 from public.identities where email = $1', ['other@platform.example.com'])).rowCount).toBe(0);
}, 120_000);

test('tenants create, show, suspend, reactivate and set-plan', async () => {
  const created = await runCli(
    db,
    ['tenants', 'create', '--slug', 'clico', '--name', 'Cli Co', '--owner-email', 'owner@clico.example.com', '--owner-name', 'Owner'],
    { OWNER_PASSWORD: 'owner password 123' },
  );
  expect(created.code, created.stderr).toBe(0);
  const status = async () => (await db.pool.query<{ status: string; plan: string }>("select status, plan from public.tenants where slug = 'clico'")).rows[0];
  expect(await status()).toEqual({ status: 'active', plan: 'free' });
  const shown = await runCli(db, ['tenants', 'show', 'clico']);
  expect(JSON.parse(shown.stdout).members).toEqual([expect.objectContaining({ email: 'owner@clico.example.com', role: 'owner' })]);
  expect((await runCli(db, ['tenants', 'suspend', 'clico'])).code).toBe(0);
  expect((await status())?.status).toBe('suspended');
  expect((await runCli(db, ['tenants', 'reactivate', 'clico'])).code).toBe(0);
  expect((await status())?.status).toBe('active');
  expect((await runCli(db, ['tenants', 'set-plan', 'clico', 'pro'])).code).toBe(0);
  expect((await status())?.plan).toBe('pro');
  const unknown = await runCli(db, ['tenants', 'set-plan', 'clico', 'platinum']);
  expect(unknown.code).toBe(2);
  expect((await status())?.plan).toBe('pro');
  const noTenant = await runCli(db, ['tenants', 'suspend', 'nosuch']);
  expect(noTenant.code).toBe(2);
  expect(noTenant.stderr).toContain('no tenant with slug nosuch');
}, 180_000);
