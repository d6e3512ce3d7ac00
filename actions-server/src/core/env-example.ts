// `.env.example`, generated: every variable of the configuration schema with its
// default, and the one line of meaning README's configuration table gives it.
import { envDefaults } from './config.ts';

function meaningIn(readme: string, name: string): string {
  const row = readme.split('\n').find((line) => line.startsWith('|') && line.includes(`\`${name}\``));
  const cells = row?.split('|').map((c) => c.trim()) ?? [];
  // | Variable | Default | Meaning |: the last non-empty cell.
  return (cells.filter(Boolean).at(-1) ?? '').replaceAll('`', '');
}

function shown(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'object') return Object.keys(value as object).length ? JSON.stringify(value) : '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}

export function renderEnvExample(readme: string): string {
  const out = [
    '# Every variable the actions server, the worker and the CLI read, with its default.',
    '# Generated from the configuration schema (npm run cli -- config env-example); do not edit by hand.',
    '# Set them in the environment (docker compose reads .env); an unset variable takes the default shown.',
    '',
  ];
  for (const [name, value] of Object.entries(envDefaults())) {
    out.push(`# ${meaningIn(readme, name)}`, `# ${name.replace('<NAME>', 'MAIN')}=${shown(value)}`, '');
  }
  return out.join('\n');
}
