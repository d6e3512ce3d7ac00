// Runs the operator CLI as operators do: a subprocess with its own environment.
import { spawn } from 'node:child_process';
import type { TestDb } from './db.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(db: TestDb | undefined, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'actions-server/src/cli/main.ts', ...args], {
    env: {
      ...process.env,
      ...(db ? { DATABASE_URL: db.url, TENANT_ROLE_PREFIX: db.rolePrefix } : {}),
      LOG_LEVEL: 'error',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr })));
}
