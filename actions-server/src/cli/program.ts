// The operator CLI's commands: one register function per group (cli/<group>.ts).
import { Command } from 'commander';
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

export function buildProgram(): Command {
  const program = new Command('cli').description('Operator commands for the multi-tenant backend').showHelpAfterError().exitOverride();
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
