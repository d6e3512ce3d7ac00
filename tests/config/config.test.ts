// Configuration is checked in one pass: every kind of problem (types, lengths,
// cross-variable rules, URL schemes) is reported together, and the process
// exits 2 with the list, never a stack trace.
import { spawn } from 'node:child_process';
import { expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../actions-server/src/core/config.ts';

const BROKEN = {
  NODE_ENV: 'production',
  PORT: 'eighty',
  DB_POOL_MAX: '0',
  DATABASE_URL: 'mysql://x',
  LOG_LEVEL: 'loud',
  RATE_LIMIT_FAIL_MODE: 'maybe',
  JWT_SECRET: 'short',
  ACTIONS_SECRET: 'tiny',
  STRIPE_SECRET_KEY: 'pk_live_wrong',
  DISABLE_MULTI_TENANCY: 'true',
  HASURA_GRAPHQL_ENDPOINT: 'ftp://hasura',
};

test('every invalid variable is reported in one pass: types, lengths, cross-variable rules, URL schemes', () => {
  let problems: string[] = [];
  try {
    loadConfig(BROKEN);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    problems = (err as ConfigError).problems;
  }
  const named = problems.map((p) => p.split(':')[0]);
  expect(named).toEqual(
    expect.arrayContaining([
      'PORT',
      'DB_POOL_MAX',
      'DATABASE_URL',
      'LOG_LEVEL',
      'RATE_LIMIT_FAIL_MODE',
      'JWT_SECRET',
      'ACTIONS_SECRET',
      'STRIPE_SECRET_KEY',
      'STRIPE_WEBHOOK_SECRET',
      'DEFAULT_TENANT_SLUG',
      'HASURA_GRAPHQL_ENDPOINT',
      'HASURA_GRAPHQL_ADMIN_SECRET',
      'HASURA_TENANT_DATABASE_URL',
    ]),
  );
  expect(problems.find((p) => p.startsWith('DATABASE_URL'))).toContain('postgres://');
});

test('the server refuses a broken configuration with exit 2 and the whole list, no stack trace', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'actions-server/src/main.ts'], {
    env: { PATH: process.env['PATH'], ...BROKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  expect(code).toBe(2);
  expect(stderr).toContain('PORT');
  expect(stderr).toContain('HASURA_TENANT_DATABASE_URL');
  expect(stderr).not.toMatch(/\n[ \t]+at /);
});
