// Per-plan, per-tenant rate limits on tenant hosts, with the in-process store
// and with Redis (shared by every process); an unreachable Redis follows
// RATE_LIMIT_FAIL_MODE and never crashes the server.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestServer, useTestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { LimitsService } from '../../actions-server/src/limits/service.ts';

const REDIS_URL = process.env['REDIS_URL'];

let free: MadeTenant;
let other: MadeTenant;
let pro: MadeTenant;
let hourly: MadeTenant;
// Each test file (and each store below) counts under its own Redis prefix.
const prefixes: string[] = [];

const fx = useTestDb();
beforeAll(async () => {
  free = await makeTenant(fx.db, 'freeco');
  other = await makeTenant(fx.db, 'otherco');
  pro = await makeTenant(fx.db, 'proco', { plan: 'pro', trial: true });
  hourly = await makeTenant(fx.db, 'hourly');
  await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{"rate_limit_per_hour": 3}' where tenant_id = $1`, [
    hourly.tenant.id,
  ]);
});
afterAll(async () => {
  if (REDIS_URL && prefixes.length) {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      for (const prefix of prefixes) {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length) await redis.del(...keys);
      }
    } finally {
      redis.disconnect();
    }
  }
});

// Only a tenant's authenticated callers count against its limits: each call carries its owner's token.
const health = (srv: RunningServer, slug: string) => {
  const made = [free, other, pro, hourly].find((t) => t.tenant.slug === slug)!;
  const token = srv.ctx.tokens.sign({ userId: made.ownerId, tenantId: made.tenant.id, role: 'owner' }).token;
  return request(srv.url, '/api/health', { host: `${slug}.saas.test`, token });
};

function newPrefix(): string {
  const prefix = `test:${randomBytes(6).toString('hex')}:`;
  prefixes.push(prefix);
  return prefix;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

const STORES: [string, () => Record<string, string>][] = [
  ['in memory', () => ({})],
  ...(REDIS_URL
    ? ([['in Redis', () => ({ REDIS_URL, RATE_LIMIT_KEY_PREFIX: newPrefix() })]] as [string, () => Record<string, string>][])
    : []),
];

describe.each(STORES)('counted %s', (store, envFor) => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await startTestServer(fx.db, envFor());
    expect(srv.ctx.rateLimits.store).toBe(store === 'in Redis' ? 'redis' : 'memory');
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('the 61st request in a minute for a free tenant gets 429 with Retry-After; another tenant is unaffected', async () => {
    const first = await health(srv, 'freeco');
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({
      'ratelimit-limit': '60',
      'ratelimit-remaining': '59',
      'ratelimit-policy': '60;w=60, 1000;w=3600',
    });
    expect(Number(first.headers['ratelimit-reset'])).toBeGreaterThan(0);
    expect(Number(first.headers['ratelimit-reset'])).toBeLessThanOrEqual(60);
    for (let i = 2; i <= 60; i++) {
      const res = await health(srv, 'freeco');
      expect(res.status, `request ${i}`).toBe(200);
      expect(res.headers['ratelimit-remaining']).toBe(String(60 - i));
    }

    const limited = await health(srv, 'freeco');
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: 'RATE_LIMITED', details: { window: 'minute', limit: 60 } });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers).toMatchObject({ 'ratelimit-limit': '60', 'ratelimit-remaining': '0' });
    // Still limited, and refused calls are neither served nor counted as API calls.
    expect((await health(srv, 'freeco')).status).toBe(429);

    const neighbour = await health(srv, 'otherco');
    expect(neighbour.status).toBe(200);
    expect(neighbour.headers['ratelimit-remaining']).toBe('59');
  });

  it("follows the tenant's plan: pro allows 120 a minute", async () => {
    for (let i = 1; i <= 61; i++) expect((await health(srv, 'proco')).status, `request ${i}`).toBe(200);
    const res = await health(srv, 'proco');
    expect(res.headers).toMatchObject({ 'ratelimit-limit': '120', 'ratelimit-remaining': '58' });
  });

  it('applies the hour window too (here overridden to 3 an hour)', async () => {
    for (let i = 1; i <= 3; i++) expect((await health(srv, 'hourly')).status).toBe(200);
    const limited = await health(srv, 'hourly');
    expect(limited.status).toBe(429);
    expect(limited.body.error.details).toMatchObject({ window: 'hour', limit: 3 });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(60);
    expect(limited.headers['ratelimit-policy']).toBe('60;w=60, 3;w=3600');
  });

  it('leaves the platform host alone', async () => {
    const res = await request(srv.url, '/api/health');
    expect(res.status).toBe(200);
    expect(res.headers['ratelimit-limit']).toBeUndefined();
  });
});

describe.skipIf(!REDIS_URL)('with Redis shared by several processes', () => {
  it('counts one minute window for the tenant across servers', async () => {
    const env = { REDIS_URL: REDIS_URL!, RATE_LIMIT_KEY_PREFIX: newPrefix() };
    const one = await startTestServer(fx.db, env);
    const two = await startTestServer(fx.db, env);
    try {
      for (let i = 0; i < 30; i++) {
        expect((await health(one, 'otherco')).status).toBe(200);
        expect((await health(two, 'otherco')).status).toBe(200);
      }
      expect((await health(two, 'otherco')).status).toBe(429);
      expect((await health(one, 'otherco')).status).toBe(429);
      const redis = new Redis(REDIS_URL!, { maxRetriesPerRequest: 1 });
      try {
        expect(await redis.get(`${env.RATE_LIMIT_KEY_PREFIX}rl:minute:${other.tenant.id}`)).toBe('62');
      } finally {
        redis.disconnect();
      }
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('when Redis is unreachable', () => {
  it('fails open by default: requests are served and the server keeps running', async () => {
    const srv = await startTestServer(fx.db, { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await health(srv, 'freeco');
        expect(res.status).toBe(200);
        expect(res.body).toEqual({ status: 'ok', tenant: { slug: 'freeco', status: 'active' } });
      }
    } finally {
      await srv.close();
    }
  });

  it('fails closed when configured: 503 with Retry-After, in the one error shape', async () => {
    const srv = await startTestServer(fx.db, {
      REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
      RATE_LIMIT_FAIL_MODE: 'closed',
    });
    try {
      for (let i = 0; i < 2; i++) {
        const res = await health(srv, 'freeco');
        expect(res.status).toBe(503);
        expect(res.body).toEqual({
          error: { code: 'SERVICE_UNAVAILABLE', message: 'Rate limiting is temporarily unavailable; retry shortly' },
        });
        expect(res.headers['retry-after']).toBe('1');
      }
      // The platform host does not depend on it.
      expect((await request(srv.url, '/api/health')).status).toBe(200);
    } finally {
      await srv.close();
    }
  });
});

it('can be switched off (RATE_LIMIT_ENABLED=false)', async () => {
  const srv = await startTestServer(fx.db, { RATE_LIMIT_ENABLED: 'false' });
  try {
    for (let i = 0; i < 4; i++) expect((await health(srv, 'hourly')).status).toBe(200);
    expect((await health(srv, 'hourly')).headers['ratelimit-limit']).toBeUndefined();
  } finally {
    await srv.close();
  }
});

describe('edits to limits', () => {
  it('a change heard while the limits are being loaded neither fails the load nor keeps what it read', async () => {
    const limits = new LimitsService(fx.db.pool, { ttlMs: 60_000, max: 10 });
    const tenant = { id: free.tenant.id, plan: 'free' };
    const first = limits.forTenant(tenant);
    limits.forget({ id: tenant.id });
    const second = limits.forTenant(tenant);
    limits.forget({ all: true });
    expect((await first).rateLimitPerMinute).toBe(60);
    expect((await second).rateLimitPerMinute).toBe(60);
    // Both loads raced a change: neither was kept.
    expect(limits.cached(tenant)).toBeUndefined();
    await limits.forTenant(tenant);
    expect(limits.cached(tenant)?.plan).toBe('free');
  });

  it('an override or a plan edited in the database applies within a second, without waiting for the cache to expire', async () => {
    const srv = await startTestServer(fx.db);
    const edited = await makeTenant(fx.db, 'edited');
    const limitOf = async () => {
      const token = srv.ctx.tokens.sign({ userId: edited.ownerId, tenantId: edited.tenant.id, role: 'owner' }).token;
      return (await request(srv.url, '/api/health', { host: 'edited.saas.test', token })).headers['ratelimit-limit'];
    };
    const within1s = { timeout: 1000, interval: 20 };
    try {
      expect(await limitOf()).toBe('60');
      await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{"rate_limit_per_minute": 7}' where tenant_id = $1`, [
        edited.tenant.id,
      ]);
      await vi.waitFor(async () => expect(await limitOf()).toBe('7'), within1s);
      await fx.db.pool.query(`update public.tenant_settings set limit_overrides = '{}' where tenant_id = $1`, [edited.tenant.id]);
      await vi.waitFor(async () => expect(await limitOf()).toBe('60'), within1s);
      await fx.db.pool.query(`update public.plans set rate_limit_per_minute = 45 where id = 'free'`);
      await vi.waitFor(async () => expect(await limitOf()).toBe('45'), within1s);
    } finally {
      await fx.db.pool.query(`update public.plans set rate_limit_per_minute = 60 where id = 'free'`);
      await srv.close();
    }
  });
});
