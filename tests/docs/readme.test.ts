// Keeps the README true: every configuration variable documented, and the two
// commands a new user needs named.
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { ENV_VARIABLES } from '../../actions-server/src/core/config.ts';
import { renderEnvExample } from '../../actions-server/src/core/env-example.ts';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

it('documents every configuration variable in the README', () => {
  const missing = ENV_VARIABLES.filter((name) => !readme.includes(`\`${name}\``));
  expect(missing).toEqual([]);
  expect(ENV_VARIABLES.length).toBeGreaterThan(20);
});

it('.env.example is current with the configuration schema (npm run cli -- config env-example)', async () => {
  const example = await readFile(new URL('../../.env.example', import.meta.url), 'utf8');
  expect(example).toEqual(renderEnvExample(readme));
});

it('names the commands to start and to test', () => {
  expect(readme).toContain('npm start');
  expect(readme).toContain('npm test');
});
