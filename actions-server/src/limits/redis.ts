// The Redis connection behind rate limits (and anything else that needs a
// shared store). Commands fail fast instead of queueing while Redis is away, so
// a request is never held up by it: callers apply RATE_LIMIT_FAIL_MODE.
import { Redis } from 'ioredis';
import type { Logger } from '../core/log.ts';

export function createRedisClient(url: string, log: Logger, opts: { commandTimeoutMs: number }): Redis {
  const client = new Redis(url, {
    enableOfflineQueue: false,
    // Commands issued in the same tick (concurrent requests' rate-limit checks) go out in one write.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: 2_000,
    // Keep reconnecting for as long as the process lives, at most every 2 s.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
  });
  // One line per outage, not one per reconnect attempt. The URL (it may hold a
  // password) is never logged.
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.warn({ err: err.message }, 'redis unavailable; rate limits follow RATE_LIMIT_FAIL_MODE until it is back');
  });
  client.on('ready', () => {
    if (down) log.info('redis connection restored');
    down = false;
  });
  return client;
}

/** Waits for the first connection (true) or its failure (false), at most `ms`: boot never hangs on Redis. */
export function redisReady(client: Redis, ms: number): Promise<boolean> {
  if (client.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      resolve(ok);
    };
    const onReady = () => done(true);
    const onError = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    client.once('ready', onReady);
    client.once('error', onError);
  });
}

export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    await client.quit().catch(() => client.disconnect());
  } else {
    client.disconnect();
  }
}
