// `npm run cli -- <group> <command>`: operator commands against DATABASE_URL (or
// the embedded database), on commander. Exit codes: 0 done, 1 the operation
// failed, 2 bad input (unknown command or flag, invalid value) with nothing changed.
import { CommanderError } from 'commander';
import { buildProgram } from './program.ts';
import { UsageError } from './runtime.ts';

const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.version']);

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return HELP_CODES.has(err.code) ? 0 : 2;
    if (err instanceof UsageError) {
      console.error(err.message);
      return 2;
    }
    console.error((err as Error).message);
    return 1;
  }
}

void main(process.argv.slice(2)).then((code) => process.exit(code));
