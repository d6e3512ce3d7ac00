// Builds the limits and usage services for the server context, and stops them
// (last API-call flush, Redis closed) when the server closes.
import type { Env } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { Pool } from '../db/tx.ts';
import type { AppContext } from '../core/context.ts';
import { UsageService } from '../usage/service.ts';
import { ApiGuard } from './api-guard.ts';
import { RateLimitService } from './rate-limits.ts';
import { closeRedis, createRedisClient, redisReady } from './redis.ts';
import { LimitsService } from './service.ts';
import { AddressLimiter, AuthThrottle, type StoreOptions } from './throttle.ts';
import { configurePasswordHashing } from '../auth/passwords.ts';

export type LimitsContext = Pick<
  AppContext,
  'redis' | 'limits' | 'rateLimits' | 'usage' | 'apiGuard' | 'authThrottle' | 'anonymousLimiter'
>;

export async function buildLimits(env: Env, log: Logger, pool: Pool): Promise<LimitsContext> {
  let redis;
  if (env.REDIS_URL) {
    redis = createRedisClient(env.REDIS_URL, log, { commandTimeoutMs: env.REDIS_COMMAND_TIMEOUT_MS });
    // Give the first connection a moment so the first requests are counted in
    // Redis; if it is down, boot goes on and the fail mode applies.
    if (!(await redisReady(redis, 2_000))) log.warn({ failMode: env.RATE_LIMIT_FAIL_MODE }, 'redis is not reachable at boot');
  } else if (env.RATE_LIMIT_ENABLED) {
    log.info('REDIS_URL is not set: rate limits are counted in this process only');
  }
  const limits = new LimitsService(pool, { ttlMs: env.LIMITS_CACHE_TTL_MS, max: env.TENANT_CACHE_MAX });
  const rateLimits = new RateLimitService({
    enabled: env.RATE_LIMIT_ENABLED,
    redis,
    keyPrefix: env.RATE_LIMIT_KEY_PREFIX,
    failMode: env.RATE_LIMIT_FAIL_MODE,
    limits,
    log,
  });
  const usage = new UsageService({ pool, log, limits, flushIntervalMs: env.USAGE_FLUSH_INTERVAL_MS });
  usage.start();
  const store: StoreOptions = { redis, keyPrefix: env.RATE_LIMIT_KEY_PREFIX, failMode: env.RATE_LIMIT_FAIL_MODE, log };
  const authThrottle = new AuthThrottle(store, {
    enabled: env.AUTH_THROTTLE_ENABLED,
    windowSeconds: env.AUTH_THROTTLE_WINDOW_SECONDS,
    perAddress: env.AUTH_THROTTLE_PER_ADDRESS,
    perAccount: env.AUTH_THROTTLE_PER_ACCOUNT,
  });
  const anonymousLimiter = new AddressLimiter(store, { enabled: env.RATE_LIMIT_ENABLED, perMinute: env.ANONYMOUS_RATE_LIMIT_PER_MINUTE });
  configurePasswordHashing({
    concurrency: env.PASSWORD_HASH_CONCURRENCY,
    queueMax: env.PASSWORD_HASH_QUEUE_MAX,
    memoryKib: env.PASSWORD_HASH_MEMORY_KIB,
  });
  return {
    ...(redis ? { redis } : {}),
    limits,
    rateLimits,
    usage,
    apiGuard: new ApiGuard(rateLimits, usage),
    authThrottle,
    anonymousLimiter,
  };
}

export async function stopLimits(ctx: LimitsContext): Promise<void> {
  await ctx.usage.stop();
  if (ctx.redis) await closeRedis(ctx.redis);
}
