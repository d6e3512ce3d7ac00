// Keeps the README true: every configuration variable documented, and the two
// commands a new user needs named.
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { ENV_VARIABLES } from '../../actions-server/src/core/config.ts';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

it('documents every configuration variable in the README', () => {
  const missing = ENV_VARIABLES.filter((name) => !readme.includes(`\`${name}\``));
  expect(missing).toEqual([]);
  expect(ENV_VARIABLES.length).toBeGreaterThan(20);
});

it('names the commands to start and to test', () => {
  expect(readme).toContain('npm start');
  expect(readme).toContain('npm test');
});
