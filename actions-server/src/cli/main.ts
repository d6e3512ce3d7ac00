// `npm run cli -- <group> <command>`: operator commands against DATABASE_URL (or
// the embedded database), on commander. Exit codes: 0 done, 1 the operation
// failed, 2 bad input (unknown command or flag, invalid value) with nothing changed.
import { Command, CommanderError } from 'commander';
import { register as registerAdmins } from './admins.ts';
import { register as registerConfig } from './config.ts';
import { register as registerDb } from './db.ts';
import { register as registerDomains } from './domains.ts';
import { register as registerHasura } from './hasura.ts';
import { register as registerMigrate } from './migrate.ts';
import { register as registerTenants } from './tenants.ts';
import { register as registerPortability } from './portability.ts';
import { register as registerJobs } from './jobs.ts';
import { register as registerBilling } from './billing.ts';
import { register as registerEntitlements } from './entitlements.ts';
import { UsageError } from './runtime.ts';

function buildProgram(): Command {
  const program = new Command('cli')
    .description('Operator commands for the multi-tenant backend')
    .showHelpAfterError()
    .exitOverride();
  const groups = [
    registerMigrate,
    registerTenants,
    registerPortability,
    registerDomains,
    registerHasura,
    registerJobs,
    registerBilling,
    registerEntitlements,
    registerAdmins,
    registerDb,
    registerConfig,
  ];
  for (const register of groups) register(program);
  // Every subcommand inherits exit-instead-of-process.exit, so main() decides the code.
  const inherit = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride().showHelpAfterError();
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

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

main(process.argv.slice(2)).then((code) => process.exit(code));
