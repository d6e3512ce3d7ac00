// The operator CLI as a subprocess: every command answers --help, bad input
// exits 2 having changed nothing, and the commands that replace hand-written SQL
// (first platform admin, tenant status and plan) do what they say.
import { expect, test } from 'vitest';
import { useTestDb } from '../support/db.ts';
import { runCli } from '../support/cli.ts';
import { Command, CommanderError } from 'commander';
import { buildProgram } from '../../actions-server/src/cli/program.ts';

const fx = useTestDb();

/** Every command path of the program, groups and leaves alike. */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.filter((c) => c.name() !== 'help').flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

test('every command and subcommand answers --help (the program main.ts runs, walked in process)', async () => {
  const paths = commandPaths(buildProgram());
  expect(paths.map((p) => p[0])).toEqual(
    expect.arrayContaining(['migrate', 'tenants', 'admins', 'db', 'jobs', 'billing', 'hasura', 'config']),
  );
  expect(paths.length).toBeGreaterThan(30);
  for (const path of paths) {
    let out = '';
    const program = buildProgram();
    const capture = (c: Command): void => {
      c.configureOutput({ writeOut: (text) => (out += text), writeErr: (text) => (out += text) });
      c.commands.forEach(capture);
    };
    capture(program);
    const err = await program.parseAsync([...path, '--help'], { from: 'user' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, path.join(' ')).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).code, path.join(' ')).toBe('commander.helpDisplayed');
    expect(out).toContain(`Usage: cli ${path.join(' ')}`);
  }
});

test('the CLI process itself answers --help with exit 0', async () => {
  const r = await runCli(undefined, ['tenants', 'move', '--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toContain('Usage: cli tenants move');
});

test.each([
  [['tenants', 'migrate', '--concurrency', 'abc'], 'expected a whole number'],
  [['tenants', 'move', 'acme', '--to', 'nowhere'], 'Allowed choices are schema, pooled, database'],
  [['migrate', 'down', 'abc'], 'expected a whole number'],
  [['no-such-command'], "unknown command 'no-such-command'"],
  [['tenants', 'list', '--no-such-flag'], "unknown option '--no-such-flag'"],
])('bad input %j exits 2 with the reason', async (args, reason) => {
  const r = await runCli(fx.db, args);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(reason);
});

test('the first platform admin is made by `admins create` with the password from the environment, never an argument', async () => {
  const made = await runCli(fx.db, ['admins', 'create', 'root@platform.example.com', '--name', 'Root'], {
    ADMIN_PASSWORD: 'a long admin password',
  });
  expect(made.code, made.stderr).toBe(0);
  const { rows } = await fx.db.pool.query<{ is_platform_admin: boolean; password_hash: string }>(
    'select is_platform_admin, password_hash from public.identities where email = $1',
    ['root@platform.example.com'],
  );
  expect(rows[0]?.is_platform_admin).toBe(true);
  expect(rows[0]?.password_hash).toMatch(/^\$argon2id\$/);
  const listed = await runCli(fx.db, ['admins', 'list']);
  expect(listed.stdout).toContain('root@platform.example.com');
  // No password and no terminal: a usage error, nothing created.
  const refused = await runCli(fx.db, ['admins', 'create', 'other@platform.example.com'], { ADMIN_PASSWORD: '' });
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('ADMIN_PASSWORD');
  expect((await fx.db.pool.query('select 1 from public.identities where email = $1', ['other@platform.example.com'])).rowCount).toBe(0);
}, 120_000);

test('tenants create, show, suspend, reactivate and set-plan', async () => {
  const created = await runCli(
    fx.db,
    ['tenants', 'create', '--slug', 'clico', '--name', 'Cli Co', '--owner-email', 'owner@clico.example.com', '--owner-name', 'Owner'],
    { OWNER_PASSWORD: 'owner password 123' },
  );
  expect(created.code, created.stderr).toBe(0);
  const status = async () =>
    (await fx.db.pool.query<{ status: string; plan: string }>("select status, plan from public.tenants where slug = 'clico'")).rows[0];
  expect(await status()).toEqual({ status: 'active', plan: 'free' });
  const shown = await runCli(fx.db, ['tenants', 'show', 'clico']);
  expect(JSON.parse(shown.stdout).members).toEqual([expect.objectContaining({ email: 'owner@clico.example.com', role: 'owner' })]);
  expect((await runCli(fx.db, ['tenants', 'suspend', 'clico'])).code).toBe(0);
  expect((await status())?.status).toBe('suspended');
  expect((await runCli(fx.db, ['tenants', 'reactivate', 'clico'])).code).toBe(0);
  expect((await status())?.status).toBe('active');
  expect((await runCli(fx.db, ['tenants', 'set-plan', 'clico', 'pro'])).code).toBe(0);
  expect((await status())?.plan).toBe('pro');
  const unknown = await runCli(fx.db, ['tenants', 'set-plan', 'clico', 'platinum']);
  expect(unknown.code).toBe(2);
  expect((await status())?.plan).toBe('pro');
  const noTenant = await runCli(fx.db, ['tenants', 'suspend', 'nosuch']);
  expect(noTenant.code).toBe(2);
  expect(noTenant.stderr).toContain('no tenant with slug nosuch');
}, 180_000);

test('a CLI whose TENANT_ROLE_PREFIX differs from the one the deployment recorded refuses (exit 2) and changes nothing', async () => {
  expect((await runCli(fx.db, ['tenants', 'list'])).code).toBe(0);
  const before = await fx.db.pool.query('select count(*) from public.tenants');
  const r = await runCli(
    fx.db,
    ['tenants', 'create', '--slug', 'wrongprefix', '--name', 'W', '--owner-email', 'w@w.example.com', '--owner-name', 'W'],
    {
      TENANT_ROLE_PREFIX: 'other_',
      OWNER_PASSWORD: 'owner password 123',
    },
  );
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("TENANT_ROLE_PREFIX is 'other_'");
  expect((await fx.db.pool.query('select count(*) from public.tenants')).rows).toEqual(before.rows);
}, 60_000);

test('db hasura-login refuses a missing password variable or an unknown role (exit 2), changing nothing', async () => {
  const missing = await runCli(fx.db, ['db', 'hasura-login', '--password-env', 'NO_SUCH_PASSWORD_VARIABLE']);
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain('NO_SUCH_PASSWORD_VARIABLE is not set');
  const role = await runCli(fx.db, ['db', 'hasura-login', '--role', 'postgres', '--password-env', 'PATH']);
  expect(role.code).toBe(2);
});
