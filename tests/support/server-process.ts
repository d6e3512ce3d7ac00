// The real actions server as a child process (`node --import tsx main.ts`, one
// process, so a signal reaches the server itself), for tests and the chaos run
// that need signals, SIGKILL and restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { request } from './http.ts';
import { until } from './wait.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(ROOT, 'actions-server/src/main.ts');

export interface LogLine {
  level?: number;
  msg?: string;
  [key: string]: unknown;
}

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  /** Every JSON log line so far (and non-JSON output as { msg }). */
  logs: LogLine[];
  /** Resolves when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line matching, or rejects after timeoutMs. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Polls GET /api/health/ready until 200. */
  waitReady(timeoutMs?: number): Promise<void>;
}

export function spawnServer(port: number, env: Record<string, string>): ServerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const watchers: ((line: LogLine) => void)[] = [];
  const onText = (chunk: Buffer, carry: { rest: string }) => {
    const text = carry.rest + chunk.toString('utf8');
    const parts = text.split('\n');
    carry.rest = parts.pop() ?? '';
    for (const raw of parts) {
      if (!raw.trim()) continue;
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        line = { msg: raw };
      }
      logs.push(line);
      for (const w of [...watchers]) w(line);
    }
  };
  const out = { rest: '' };
  const err = { rest: '' };
  child.stdout.on('data', (c: Buffer) => onText(c, out));
  child.stderr.on('data', (c: Buffer) => onText(c, err));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    child,
    logs,
    exited,
    waitForLog(match, timeoutMs = 30_000) {
      const hit = logs.find(match);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          watchers.splice(watchers.indexOf(watch), 1);
          reject(
            new Error(
              `no matching log line within ${timeoutMs} ms; last lines:\n${logs
                .slice(-10)
                .map((l) => JSON.stringify(l))
                .join('\n')}`,
            ),
          );
        }, timeoutMs);
        const watch = (line: LogLine) => {
          if (!match(line)) return;
          clearTimeout(timer);
          watchers.splice(watchers.indexOf(watch), 1);
          resolve(line);
        };
        watchers.push(watch);
      });
    },
    async waitReady(timeoutMs = 60_000) {
      let exitedEarly = false;
      void exited.then(() => (exitedEarly = true));
      await until(
        'the server to be ready',
        async () => {
          if (exitedEarly)
            throw new Error(
              `server exited while booting:\n${logs
                .slice(-10)
                .map((l) => JSON.stringify(l))
                .join('\n')}`,
            );
          return (await request(url, '/api/health/ready').catch(() => undefined))?.status === 200;
        },
        { timeout: timeoutMs, interval: 100 },
      );
    },
  };
}
