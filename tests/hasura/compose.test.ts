// docker-compose.yml cannot run here (no Docker engine), so its wiring is
// checked by reading it: pinned images, healthchecks and start order, mounts
// that exist, the auth webhook and action URLs pointing at real routes, every
// environment variable the metadata reads provided to Hasura, and every one
// given to the actions server known to its configuration.
import { access, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../actions-server/src/core/config.ts';
import { AUTH_WEBHOOK_PATH } from '../../actions-server/src/hasura/auth-webhook.ts';
import { ACTIONS_PATH } from '../../actions-server/src/hasura/actions.ts';
import { tenantDatabaseUrlProblem } from '../../actions-server/src/hasura/settings.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: unknown };
  depends_on?: Record<string, { condition: string }>;
  configs?: { source: string; target: string }[];
}
interface Compose {
  services: Record<string, Service>;
  configs: Record<string, { content: string }>;
}

// What `docker compose` does with ${VAR}, ${VAR:-default} and ${VAR:?message}, given a .env.
const DOT_ENV: Record<string, string> = {
  POSTGRES_PASSWORD: 'pgpass',
  HASURA_DB_PASSWORD: 'hasurapass',
  HASURA_TENANTS_DB_PASSWORD: 'tenantspass',
  HASURA_GRAPHQL_ADMIN_SECRET: 'admin-secret',
  JWT_SECRET: 'jwt-secret-that-is-long-enough-0123456789',
  ACTIONS_SECRET: 'actions-secret-0123456789',
  EVENTS_SECRET: 'events-secret-0123456789',
};
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?:(:-|:\?)([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    const value = env[name];
    if (value !== undefined && value !== '') return value;
    if (op === ':?') throw new Error(`compose would refuse to start: ${name}: ${arg}`);
    return op === ':-' ? (arg ?? '') : '';
  });
}

let raw: string;
let compose: Compose;
beforeAll(async () => {
  raw = await readFile(`${ROOT}docker-compose.yml`, 'utf8');
  compose = parse(interpolate(raw, DOT_ENV)) as Compose;
});
const service = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`no service ${name}`);
  return s;
};

describe('docker-compose.yml', () => {
  it('runs postgres 15, redis 7, a pinned v2 cli-migrations Hasura and the actions server from the Dockerfile', async () => {
    expect(service('postgres').image).toBe('postgres:15');
    expect(service('redis').image).toBe('redis:7');
    expect(service('graphql-engine').image).toMatch(/^hasura\/graphql-engine:v2\.\d+\.\d+\.cli-migrations-v3$/);
    expect(service('actions-server').build).toBe('.');
    await expect(access(`${ROOT}Dockerfile`)).resolves.toBeUndefined();
  });

  it('refuses to start without its secrets rather than using defaults', () => {
    for (const name of Object.keys(DOT_ENV)) {
      const { [name]: _gone, ...rest } = DOT_ENV;
      expect(() => interpolate(raw, rest), name).toThrow(name);
    }
  });

  it('gives every service a healthcheck and starts them in order', () => {
    for (const [name, s] of Object.entries(compose.services)) expect(s.healthcheck?.test, name).toBeDefined();
    expect(service('graphql-engine').depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(service('actions-server').depends_on).toEqual({
      postgres: { condition: 'service_healthy' },
      redis: { condition: 'service_healthy' },
      'graphql-engine': { condition: 'service_healthy' },
    });
  });

  it('mounts the migrations and metadata directories where the cli-migrations image reads them', async () => {
    const mounts = (service('graphql-engine').volumes ?? []).map((v) => v.split(':'));
    const targets = Object.fromEntries(mounts.map(([host, target]) => [target, host]));
    expect(targets['/hasura-migrations']).toBe('./hasura/migrations');
    expect(targets['/hasura-metadata']).toBe('./hasura/metadata');
    for (const [host] of mounts) await expect(access(`${ROOT}${host}`), host).resolves.toBeUndefined();
    await expect(access(`${ROOT}hasura/migrations/default`)).resolves.toBeUndefined();
  });

  it("points Hasura's auth webhook (POST) and actions at the actions server's routes", () => {
    const env = service('graphql-engine').environment!;
    const port = service('actions-server').environment!['PORT'];
    expect(service('actions-server').ports).toContainEqual(expect.stringMatching(new RegExp(`:${port}$`)));
    expect(env['HASURA_GRAPHQL_AUTH_HOOK']).toBe(`http://actions-server:${port}${AUTH_WEBHOOK_PATH}`);
    expect(env['HASURA_GRAPHQL_AUTH_HOOK_MODE']).toBe('POST');
    expect(env['HASURA_GRAPHQL_ENABLE_CONSOLE']).toBe('true');
    expect(`${env['ACTIONS_BASE_URL']}/hasura/actions`).toBe(`http://actions-server:${port}${ACTIONS_PATH}`);
    expect(service('actions-server').environment!['HASURA_GRAPHQL_ENDPOINT']).toBe('http://graphql-engine:8080/v1/graphql');
    expect(service('graphql-engine').ports).toContainEqual(expect.stringMatching(/:8080$/));
  });

  it('gives Hasura every environment variable the metadata reads, none of them HASURA_-prefixed', async () => {
    const env = service('graphql-engine').environment!;
    const metadataDir = `${ROOT}hasura/metadata`;
    const files = ['databases/databases.yaml', 'actions.yaml', 'cron_triggers.yaml'];
    const used = new Set<string>();
    for (const f of files) {
      const text = await readFile(`${metadataDir}/${f}`, 'utf8');
      for (const m of text.matchAll(/(?:from_env|value_from_env):\s*([A-Z0-9_]+)|\{\{([A-Z0-9_]+)\}\}/g)) used.add((m[1] ?? m[2])!);
    }
    expect([...used].sort()).toEqual(['ACTIONS_BASE_URL', 'ACTIONS_SECRET', 'PG_DATABASE_URL', 'PG_HASURA_DATABASE_URL']);
    for (const name of used) {
      expect(env[name], name).toBeTruthy();
      expect(name.startsWith('HASURA_'), name).toBe(false);
    }
    // Shared secrets are the same on both sides.
    for (const name of ['ACTIONS_SECRET', 'EVENTS_SECRET', 'HASURA_GRAPHQL_ADMIN_SECRET']) {
      expect(service('actions-server').environment![name], name).toBe(env[name]);
    }
  });

  it('gives the actions server only variables its configuration knows, and a valid configuration', () => {
    // `KEY: ${VAR:-}` reads as YAML null; compose passes an empty string.
    const given = Object.fromEntries(
      Object.entries(service('actions-server').environment!).map(([k, v]) => [k, v == null ? '' : String(v)]),
    );
    const env = loadConfig(given) as Record<string, unknown>;
    expect(Object.keys(given).filter((k) => !(k in env))).toEqual([]);
  });

  it('wires the database roles: hasura for the platform source, a password-less URL for tenant sources', () => {
    const init = compose.configs['postgres_roles']!.content;
    expect(service('postgres').configs).toEqual([{ source: 'postgres_roles', target: '/docker-entrypoint-initdb.d/10-roles.sql' }]);
    const hasuraEnv = service('graphql-engine').environment!;
    const platformUrl = new URL(hasuraEnv['PG_HASURA_DATABASE_URL']!);
    expect(init).toContain(`create role ${platformUrl.username} login password '${decodeURIComponent(platformUrl.password)}' nobypassrls;`);
    const tenantUrl = service('actions-server').environment!['HASURA_TENANT_DATABASE_URL']!;
    expect(tenantDatabaseUrlProblem(tenantUrl)).toBeUndefined();
    expect(init).toContain(`create role ${new URL(tenantUrl).username} login password '${hasuraEnv['PGPASSWORD']}' noinherit nobypassrls;`);
    expect(init).toContain('create database hasura_metadata;');
    expect(new URL(hasuraEnv['HASURA_GRAPHQL_METADATA_DATABASE_URL']!).pathname).toBe('/hasura_metadata');
  });
});
