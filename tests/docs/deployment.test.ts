// The deployment recipes name only variables the server reads, and pass every
// variable a production deployment needs: compose's actions-server service and
// README's nself steps, checked against the configuration schema.
import { readFile } from 'node:fs/promises';
import { expect, test } from 'vitest';
import { parse } from 'yaml';
import { ENV_VARIABLES } from '../../actions-server/src/core/config.ts';

const root = new URL('../../', import.meta.url);
const readme = await readFile(new URL('README.md', root), 'utf8');
const compose = parse(await readFile(new URL('docker-compose.yml', root), 'utf8')) as {
  services: Record<string, { environment?: Record<string, string> }>;
};

/** A production deployment's actions server needs these (or their documented aliases). */
const REQUIRED: Record<string, string[]> = {
  DATABASE_URL: [],
  REDIS_URL: [],
  BASE_DOMAIN: ['NEXT_PUBLIC_BASE_DOMAIN'],
  JWT_SECRET: [],
  ACTIONS_SECRET: [],
  EVENTS_SECRET: [],
  HASURA_GRAPHQL_ENDPOINT: ['HASURA_ENDPOINT'],
  HASURA_GRAPHQL_ADMIN_SECRET: ['HASURA_ADMIN_SECRET'],
  HASURA_TENANT_DATABASE_URL: [],
};

const known = new Set(ENV_VARIABLES);

function missingRequired(passed: Set<string>): string[] {
  return Object.entries(REQUIRED)
    .filter(([name, aliases]) => ![name, ...aliases].some((n) => passed.has(n)))
    .map(([name]) => name);
}

test('compose passes the actions server only variables it reads, and every one a deployment needs', () => {
  const env = Object.keys(compose.services['actions-server']?.environment ?? {});
  expect(env.filter((name) => !known.has(name))).toEqual([]);
  expect(missingRequired(new Set(env))).toEqual([]);
});

test("README's nself steps pass the actions server only variables it reads, and every one a deployment needs", () => {
  const section = readme.slice(
    readme.indexOf('## Running under nself'),
    readme.indexOf('\n## ', readme.indexOf('## Running under nself') + 5),
  );
  const step = section.slice(section.indexOf('**The actions server**'), section.indexOf('6. **'));
  const named = new Set([...step.matchAll(/`([A-Z][A-Z0-9_]{2,60})(?:=[^`]*)?`/g)].map((m) => m[1]!));
  expect([...named].filter((name) => !known.has(name) && !name.endsWith('_<NAME>'))).toEqual([]);
  expect(missingRequired(named)).toEqual([]);
});
