// Redis helpers for benchmarks that need it (rate limiting, the auth webhook).
import { Redis } from 'ioredis';

export function connectRedis(url: string): Redis {
  // A benchmark should fail fast rather than queue commands behind reconnects.
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

export async function redisVersion(url: string): Promise<string | null> {
  const redis = connectRedis(url);
  try {
    const info = await redis.info('server');
    return /redis_version:(\S+)/.exec(info)?.[1] ?? null;
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}

/** Calls fn with every batch of keys matching `pattern` (SCAN, never KEYS: the server may be shared). */
export async function forEachKeyBatch(redis: Redis, pattern: string, fn: (keys: string[]) => Promise<void>): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1_000);
    if (keys.length > 0) await fn(keys);
    cursor = next;
  } while (cursor !== '0');
}
