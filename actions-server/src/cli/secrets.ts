// Passwords never travel as command-line arguments (they would sit in shell
// history and the process list): from a named environment variable, or typed
// at a prompt that does not echo.
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { UsageError } from './runtime.ts';

export async function readSecret(envName: string, prompt: string): Promise<string> {
  const fromEnv = process.env[envName];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!process.stdin.isTTY) throw new UsageError(`set ${envName} or run this on a terminal to type the password`);
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (!muted) process.stdout.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = rl.question(prompt);
    muted = true;
    const secret = await answer;
    process.stdout.write('\n');
    return secret;
  } finally {
    rl.close();
  }
}
