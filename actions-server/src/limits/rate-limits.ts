// Per-plan, per-tenant request rate limits: a minute and an hour window
// (plans.rate_limit_per_minute / _per_hour, or the tenant's overrides), counted
// by rate-limiter-flexible in Redis when REDIS_URL is set (shared by every
// process) or in this process's memory otherwise. Used by the REST middleware
// and the Hasura auth webhook alike.
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import type { EffectiveLimits, LimitedTenant, LimitsService } from './service.ts';

export type RateLimitFailMode = 'open' | 'closed';

const WINDOWS = [
  { name: 'minute', seconds: 60, points: (l: EffectiveLimits) => l.rateLimitPerMinute },
  { name: 'hour', seconds: 3_600, points: (l: EffectiveLimits) => l.rateLimitPerHour },
] as const;

type WindowName = (typeof WINDOWS)[number]['name'];

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
  // One limiter per window and limit value. Limiters of one window share a key
  // prefix, so a tenant that changes plan keeps its count for the window.
  private readonly limiters = new Map<string, RateLimiterAbstract>();
  private failuresSinceLog = 0;
  private lastFailureLog = 0;

  constructor(private readonly opts: RateLimitOptions) {}

  get store(): 'redis' | 'memory' {
    return this.opts.redis ? 'redis' : 'memory';
  }

  private limiter(window: (typeof WINDOWS)[number], points: number): RateLimiterAbstract {
    const id = `${window.name}:${points}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      const common = { keyPrefix: `${this.opts.keyPrefix}rl:${window.name}`, points, duration: window.seconds };
      limiter = this.opts.redis
        ? new RateLimiterRedis({
            ...common,
            storeClient: this.opts.redis,
            rejectIfRedisNotReady: true,
            // Once a tenant is over, further requests in the window are refused
            // from memory without a Redis round trip.
            inMemoryBlockOnConsumed: points + 1,
          })
        : new RateLimiterMemory(common);
      this.limiters.set(id, limiter);
    }
    return limiter;
  }

  /**
   * Counts one request for the tenant in both windows. Resolves with the
   * RateLimit-* headers to send; throws AppError RATE_LIMITED (429, with
   * Retry-After) when a window is exhausted, or SERVICE_UNAVAILABLE (503) when
   * the store is unreachable and RATE_LIMIT_FAIL_MODE=closed.
   */
  async check(tenant: LimitedTenant): Promise<Record<string, string>> {
    if (!this.opts.enabled) return {};
    const limits = await this.opts.limits.forTenant(tenant);
    const outcomes = await Promise.allSettled(WINDOWS.map((w) => this.limiter(w, w.points(limits)).consume(tenant.id)));
    const states: WindowState[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      const window = WINDOWS[i]!;
      const res: unknown = outcome.status === 'fulfilled' ? outcome.value : outcome.reason;
      // A rejection that is not a RateLimiterRes is the store failing.
      if (!(res instanceof RateLimiterRes)) return this.storeFailed(tenant, res);
      states.push({
        window: window.name,
        seconds: window.seconds,
        limit: window.points(limits),
        remaining: res.remainingPoints,
        resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
        exceeded: outcome.status === 'rejected',
      });
    }
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
