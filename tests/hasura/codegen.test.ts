// The committed action types are what `npm run codegen` produces from
// hasura/metadata/actions.graphql today: regenerate into a temporary directory
// with the project's own codegen.yml and compare.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from '@graphql-codegen/cli';
import { parse } from 'yaml';
import { afterAll, expect, it } from 'vitest';

interface CodegenConfig {
  schema: string[];
  generates: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('commits the current output of npm run codegen', async () => {
  const config = parse(await readFile('codegen.yml', 'utf8')) as CodegenConfig;
  const [[committedPath, target]] = Object.entries(config.generates) as [[string, Record<string, unknown>]];
  dir = await mkdtemp(path.join(tmpdir(), 'codegen-'));
  const fresh = path.join(dir, 'actions.ts');
  await generate({ ...config, silent: true, generates: { [fresh]: target } }, true);
  const committed = await readFile(committedPath, 'utf8');
  expect(committed, 'run `npm run codegen` and commit the result').toBe(await readFile(fresh, 'utf8'));
});
