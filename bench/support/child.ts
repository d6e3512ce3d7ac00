// Runs a TypeScript worker script in a child process (through tsx): load
// generators and memory-measured work run apart from the benchmark process.
// One protocol for every worker: its input as one JSON document on stdin (no
// argv limit), its result as the last line it writes to stdout, as JSON.
import { spawn } from 'node:child_process';
import { text } from 'node:stream/consumers';
import type { z } from 'zod';

export async function runChild<T>(script: string, input: unknown, output: z.ZodType<T>): Promise<T> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(JSON.stringify(input));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${script} exited with ${code}: ${stderr.trim().slice(-500)}`)),
    );
  });
  const line = out.trim().split('\n').at(-1) ?? '';
  try {
    return output.parse(JSON.parse(line));
  } catch (e) {
    throw new Error(`${script} wrote no readable result: ${(e as Error).message}: ${line.slice(-300)}`);
  }
}

/** In a worker: its input, as runChild sent it. */
export async function childInput<T>(schema: z.ZodType<T>): Promise<T> {
  return schema.parse(JSON.parse(await text(process.stdin)));
}
