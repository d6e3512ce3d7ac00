// Runs a TypeScript worker script in a child process (through tsx) and returns
// the last line it wrote to stdout: load generators and memory-measured work
// run apart from the benchmark process.
import { spawn } from 'node:child_process';

/** `input`, when given, goes to the child's stdin (for what is too large for argv). */
export async function runChild(script: string, args: string[], input?: string): Promise<string> {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(input ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${script} exited with ${code}: ${stderr.trim().slice(-500)}`)),
    );
  });
  return out.trim().split('\n').at(-1) ?? '';
}
