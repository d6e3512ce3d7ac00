import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { classifyHost } from '../../actions-server/src/domains/hosts.ts';
import { loadConfig } from '../../actions-server/src/core/config.ts';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant } from '../support/factories.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';

const env = (over: Record<string, string> = {}) =>
  loadConfig({ BASE_DOMAIN: 'nchat.app', NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(40), ...over });

describe('classifyHost', () => {
  it.each([
    ['acme.nchat.app', { kind: 'slug', slug: 'acme' }],
    ['ACME.nchat.app:443', { kind: 'slug', slug: 'acme' }],
    ['acme.nchat.app.', { kind: 'slug', slug: 'acme' }],
    ['nchat.app', { kind: 'platform' }],
    ['127.0.0.1:3000', { kind: 'platform' }],
    ['[::1]:3000', { kind: 'platform' }],
    ['localhost:3000', { kind: 'platform' }],
    ['www.acme.nchat.app', { kind: 'slug', slug: '' }],
    ['drop;--.nchat.app', { kind: 'slug', slug: '' }],
    ['chat.acme.com', { kind: 'domain', domain: 'chat.acme.com' }],
    ['acme.localhost:3000', { kind: 'domain', domain: 'acme.localhost' }],
  ])('%s in production', (host, expected) => {
    expect(classifyHost(host, env())).toEqual(expected);
  });

  it('accepts <slug>.localhost outside production', () => {
    expect(classifyHost('acme.localhost:3000', env({ NODE_ENV: 'development' }))).toEqual({ kind: 'slug', slug: 'acme' });
  });

  it('maps every host to one tenant in single-tenant mode (both spellings)', () => {
    for (const e of [
      env({ DISABLE_MULTI_TENANCY: 'true', DEFAULT_TENANT_SLUG: 'default' }),
      env({ ENABLE_MULTI_TENANCY: 'false', DEFAULT_TENANT_SLUG: 'default' }),
    ]) {
      expect(classifyHost('anything.example.org', e)).toEqual({ kind: 'slug', slug: 'default' });
      expect(classifyHost('nchat.app', e)).toEqual({ kind: 'slug', slug: 'default' });
    }
    expect(() => env({ DISABLE_MULTI_TENANCY: 'true' })).toThrow(/DEFAULT_TENANT_SLUG/);
  });

  it('ignores custom domains when they are disabled', () => {
    expect(classifyHost('chat.acme.com', env({ ENABLE_CUSTOM_DOMAINS: 'false' }))).toEqual({ kind: 'slug', slug: '' });
  });
});

describe('resolution through the server', () => {
  let db: TestDb;
  let dev: RunningServer;
  let prod: RunningServer;
  let single: RunningServer;
  beforeAll(async () => {
    db = await createTestDb();
    await makeTenant(db, 'acme');
    dev = await startTestServer(db, { NODE_ENV: 'development', INTERNAL_API_SECRET: 'internal-secret-value' });
    prod = await startTestServer(db, { NODE_ENV: 'production', INTERNAL_API_SECRET: 'internal-secret-value' });
    single = await startTestServer(db, { DISABLE_MULTI_TENANCY: 'true', DEFAULT_TENANT_SLUG: 'acme' });
  });
  afterAll(async () => {
    await Promise.all([dev?.close(), prod?.close(), single?.close()]);
    await db?.close();
  });

  const health = (srv: RunningServer, opts: Parameters<typeof request>[2] = {}, path = '/api/health') => request(srv.url, path, opts);

  it('resolves <slug>.localhost in development only', async () => {
    expect((await health(dev, { host: 'acme.localhost:3000' })).body.tenant?.slug).toBe('acme');
    expect((await health(prod, { host: 'acme.localhost:3000' })).status).toBe(404);
  });

  it('honours X-Tenant-Slug only with the internal secret', async () => {
    const trusted = await health(prod, {
      host: 'saas.test',
      headers: { 'x-tenant-slug': 'acme', 'x-internal-secret': 'internal-secret-value' },
    });
    expect(trusted.body.tenant?.slug).toBe('acme');
    const untrusted = await health(prod, { host: 'saas.test', headers: { 'x-tenant-slug': 'acme', 'x-internal-secret': 'wrong' } });
    expect(untrusted.body).toEqual({ status: 'ok', database: 'up' });
    const bare = await health(prod, { host: 'saas.test', headers: { 'x-tenant-slug': 'acme' } });
    expect(bare.body.tenant).toBeUndefined();
  });

  it('honours ?tenant= only in development', async () => {
    expect((await health(dev, { host: 'saas.test' }, '/api/health?tenant=acme')).body.tenant?.slug).toBe('acme');
    expect((await health(prod, { host: 'saas.test' }, '/api/health?tenant=acme')).body.tenant).toBeUndefined();
  });

  it('serves the default tenant on any host in single-tenant mode', async () => {
    expect((await health(single, { host: 'whatever.example.org' })).body.tenant?.slug).toBe('acme');
  });

  it('caches an unknown slug negatively, and forgets it as soon as the tenant is created', async () => {
    expect((await health(prod, { host: 'latecomer.saas.test' })).status).toBe(404);
    await makeTenant(db, 'latecomer');
    await vi.waitFor(async () => expect((await health(prod, { host: 'latecomer.saas.test' })).status).toBe(200), {
      timeout: 1_000,
      interval: 20,
    });
  });
});
