// `config check|env-example`: the configuration as this process sees it.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { renderEnvExample } from '../core/env-example.ts';
import { cliConfig } from './runtime.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export function register(program: Command): void {
  const config = program.command('config').description('configuration: check it, write .env.example');
  config
    .command('check')
    .description('parse the environment as the server does and list every problem (exit 2 if any)')
    .action(() => {
      cliConfig();
      console.log('configuration is valid');
    });
  config
    .command('env-example')
    .description('write .env.example from the configuration schema and README')
    .action(async () => {
      const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
      await writeFile(path.join(ROOT, '.env.example'), renderEnvExample(readme));
      console.log('wrote .env.example');
    });
}
