// Per-plan, per-tenant request rate limits: a minute and an hour window
// (plans.rate_limit_per_minute / _per_hour, or the tenant's overrides), counted
// in Redis when REDIS_URL is set (shared by every process) or in this process's
// memory otherwise. Used by the REST middleware and the Hasura auth webhook alike.
// On Redis both windows are counted by one script in one round trip, with the
// keys, values and expiries rate-limiter-flexible uses (one INCR per window and
// check), so counts carry over from it; Redis Cluster would need the two keys in
// one hash slot.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import type { EffectiveLimits, LimitedTenant, LimitsService } from './service.ts';

export type RateLimitFailMode = 'open' | 'closed';

const WINDOWS = [
  { name: 'minute', seconds: 60, points: (l: EffectiveLimits) => l.rateLimitPerMinute },
  { name: 'hour', seconds: 3_600, points: (l: EffectiveLimits) => l.rateLimitPerHour },
] as const;

type WindowName = (typeof WINDOWS)[number]['name'];

// KEYS: the minute and hour counters; ARGV: their durations in seconds. Returns
// {count, pttl} per window, as rate-limiter-flexible's own script does for one.
const COUNT_BOTH_SCRIPT = `
local out = {}
for i = 1, 2 do
  redis.call('set', KEYS[i], 0, 'EX', ARGV[i], 'NX')
  local count = redis.call('incr', KEYS[i])
  local ttl = redis.call('pttl', KEYS[i])
  if ttl == -1 then
    redis.call('expire', KEYS[i], ARGV[i])
    ttl = 1000 * ARGV[i]
  end
  out[2 * i - 1] = count
  out[2 * i] = ttl
end
return out`;
const COUNT_BOTH_SHA = createHash('sha1').update(COUNT_BOTH_SCRIPT).digest('hex');
const DURATIONS = WINDOWS.map((w) => String(w.seconds));

/** A window's count after this check and the milliseconds until it resets. */
type Counts = [minute: number, minuteMs: number, hour: number, hourMs: number];

interface WindowState {
  window: WindowName;
  seconds: number;
  limit: number;
  remaining: number;
  resetSeconds: number;
  exceeded: boolean;
}

export interface RateLimitOptions {
  enabled: boolean;
  redis: Redis | undefined;
  keyPrefix: string;
  failMode: RateLimitFailMode;
  limits: LimitsService;
  log: Logger;
}

/** RateLimit-* headers (IETF draft: the most constrained window) and the policy of both windows. */
function headersFor(states: WindowState[]): Record<string, string> {
  // An exhausted window first, else the one with the fewest requests left.
  const tightest = states.reduce((a, b) =>
    (b.exceeded && !a.exceeded) || (b.exceeded === a.exceeded && b.remaining < a.remaining) ? b : a,
  );
  return {
    'RateLimit-Limit': String(tightest.limit),
    'RateLimit-Remaining': String(tightest.remaining),
    'RateLimit-Reset': String(tightest.resetSeconds),
    'RateLimit-Policy': states.map((s) => `${s.limit};w=${s.seconds}`).join(', '),
  };
}

export class RateLimitService {
  // Without Redis: one counter per window (the limit is applied below, so a plan change keeps the count).
  private readonly memory = WINDOWS.map(
    (w) => new RateLimiterMemory({ keyPrefix: `rl:${w.name}`, points: Number.MAX_SAFE_INTEGER, duration: w.seconds }),
  );
  private failuresSinceLog = 0;
  private lastFailureLog = 0;

  constructor(private readonly opts: RateLimitOptions) {}

  get store(): 'redis' | 'memory' {
    return this.opts.redis ? 'redis' : 'memory';
  }

  /** Counts one check in both windows: one script call on Redis. */
  private async count(tenantId: string): Promise<Counts> {
    const redis = this.opts.redis;
    if (!redis) {
      const [minute, hour] = await Promise.all(this.memory.map((l) => l.consume(tenantId)));
      return [minute!.consumedPoints, minute!.msBeforeNext, hour!.consumedPoints, hour!.msBeforeNext];
    }
    const keys = [`${this.opts.keyPrefix}rl:minute:${tenantId}`, `${this.opts.keyPrefix}rl:hour:${tenantId}`] as const;
    let reply: unknown;
    try {
      reply = await redis.evalsha(COUNT_BOTH_SHA, 2, ...keys, ...DURATIONS);
    } catch (err) {
      // The first call after a Redis restart: the script is loaded by running it.
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      reply = await redis.eval(COUNT_BOTH_SCRIPT, 2, ...keys, ...DURATIONS);
    }
    if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((n) => typeof n === 'number')) {
      throw new Error('unexpected reply from the rate-limit script');
    }
    return reply as Counts;
  }

  /**
   * Counts one request for the tenant in both windows. Resolves with the
   * RateLimit-* headers to send; throws AppError RATE_LIMITED (429, with
   * Retry-After) when a window is exhausted, or SERVICE_UNAVAILABLE (503) when
   * the store is unreachable and RATE_LIMIT_FAIL_MODE=closed.
   */
  async check(tenant: LimitedTenant): Promise<Record<string, string>> {
    if (!this.opts.enabled) return {};
    const limits = this.opts.limits.cached(tenant) ?? (await this.opts.limits.forTenant(tenant));
    let counts: Counts;
    try {
      counts = await this.count(tenant.id);
    } catch (err) {
      return this.storeFailed(tenant, err);
    }
    const states = WINDOWS.map((window, i): WindowState => {
      const limit = window.points(limits);
      const used = counts[2 * i]!;
      return {
        window: window.name,
        seconds: window.seconds,
        limit,
        remaining: Math.max(0, limit - used),
        resetSeconds: Math.max(1, Math.ceil(counts[2 * i + 1]! / 1000)),
        exceeded: used > limit,
      };
    });
    const headers = headersFor(states);
    const blocking = states.filter((s) => s.exceeded).sort((a, b) => b.resetSeconds - a.resetSeconds)[0];
    if (blocking) {
      throw new AppError(
        'RATE_LIMITED',
        `Rate limit exceeded: the ${limits.plan} plan allows ${blocking.limit} requests per ${blocking.window}; retry in ${blocking.resetSeconds} s`,
        { window: blocking.window, limit: blocking.limit, retryAfterSeconds: blocking.resetSeconds },
        { ...headers, 'Retry-After': String(blocking.resetSeconds) },
      );
    }
    return headers;
  }

  private storeFailed(tenant: LimitedTenant, reason: unknown): Record<string, string> {
    this.failuresSinceLog++;
    const now = Date.now();
    // At most one line every 10 s however many requests fail meanwhile.
    if (now - this.lastFailureLog >= 10_000) {
      this.opts.log.warn(
        {
          tenantId: tenant.id,
          failMode: this.opts.failMode,
          failures: this.failuresSinceLog,
          err: reason instanceof Error ? reason.message : String(reason),
        },
        `rate limit store unavailable; failing ${this.opts.failMode}`,
      );
      this.lastFailureLog = now;
      this.failuresSinceLog = 0;
    }
    switch (this.opts.failMode) {
      case 'open':
        return {};
      case 'closed':
        throw new AppError('SERVICE_UNAVAILABLE', 'Rate limiting is temporarily unavailable; retry shortly', undefined, {
          'Retry-After': '1',
        });
      default: {
        const never: never = this.opts.failMode;
        throw new Error(`unknown fail mode ${String(never)}`);
      }
    }
  }
}
