// Abuse throttling for the endpoints that cost a password hash or reveal
// something about an account: sign-in, sign-up, password recovery and reset.
// Two counters per kind, in the rate-limit store (Redis when REDIS_URL is set,
// memory otherwise): every request per client address, and attempts per
// account (the email), where a success gives its attempt back, so only
// failures add up. Anonymous traffic in general is limited per address by
// AddressLimiter, never against a tenant's quota.
import type { Request, RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { RateLimitFailMode } from './rate-limits.ts';

export type ThrottleKind = 'login' | 'signup' | 'forgot' | 'reset';

export interface StoreOptions {
  redis: Redis | undefined;
  keyPrefix: string;
  failMode: RateLimitFailMode;
  log: Logger;
}

function limiter(store: StoreOptions, name: string, points: number, seconds: number): RateLimiterAbstract {
  const common = { keyPrefix: `${store.keyPrefix}${name}`, points, duration: seconds };
  return store.redis
    ? new RateLimiterRedis({ ...common, storeClient: store.redis, rejectIfRedisNotReady: true, inMemoryBlockOnConsumed: points + 1 })
    : new RateLimiterMemory(common);
}

function refused(what: string, res: RateLimiterRes): AppError {
  const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  return new AppError(
    'RATE_LIMITED',
    `Too many ${what}; retry in ${seconds} s`,
    { retryAfterSeconds: seconds },
    { 'Retry-After': String(seconds) },
  );
}

/** One point for `key`; throws RATE_LIMITED when exhausted, follows the fail mode when the store is down. */
async function consume(store: StoreOptions, l: RateLimiterAbstract, key: string, what: string): Promise<void> {
  try {
    await l.consume(key);
  } catch (err) {
    if (err instanceof RateLimiterRes) throw refused(what, err);
    store.log.warn({ err: err instanceof Error ? err.message : String(err), failMode: store.failMode }, 'throttle store unavailable');
    if (store.failMode === 'closed') {
      throw new AppError('SERVICE_UNAVAILABLE', 'Throttling is temporarily unavailable; retry shortly', undefined, { 'Retry-After': '1' });
    }
  }
}

/** The client's address as Express sees it (honours TRUST_PROXY_HOPS through `trust proxy`). */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** The account a request names: its `email` field, normalised, when it is a plausible one. */
export function emailOf(req: Request): string | undefined {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>)['email'] ?? (body as Record<string, unknown>)['ownerEmail'];
  return typeof value === 'string' && value.length <= 254 ? value.trim().toLowerCase() : undefined;
}

export interface ThrottlePolicy {
  enabled: boolean;
  windowSeconds: number;
  perAddress: number;
  perAccount: number;
}

export class AuthThrottle {
  private readonly byAddress = new Map<ThrottleKind, RateLimiterAbstract>();
  private readonly byAccount = new Map<ThrottleKind, RateLimiterAbstract>();

  constructor(
    private readonly store: StoreOptions,
    private readonly policy: ThrottlePolicy,
  ) {}

  private limiters(kind: ThrottleKind): { address: RateLimiterAbstract; account: RateLimiterAbstract } {
    let address = this.byAddress.get(kind);
    let account = this.byAccount.get(kind);
    if (!address || !account) {
      address = limiter(this.store, `auth:${kind}:ip`, this.policy.perAddress, this.policy.windowSeconds);
      account = limiter(this.store, `auth:${kind}:acct`, this.policy.perAccount, this.policy.windowSeconds);
      this.byAddress.set(kind, address);
      this.byAccount.set(kind, account);
    }
    return { address, account };
  }

  /**
   * Counts one attempt (per address when known, per account when named);
   * resolves with a function to call when the attempt succeeded, which gives
   * the account its point back.
   */
  async attempt(kind: ThrottleKind, who: { address?: string | undefined; account?: string | undefined }): Promise<() => void> {
    if (!this.policy.enabled) return () => undefined;
    const { address, account } = this.limiters(kind);
    if (who.address !== undefined) await consume(this.store, address, who.address, 'attempts from this address');
    if (who.account === undefined) return () => undefined;
    const key = who.account;
    await consume(this.store, account, key, 'attempts for this account');
    return () => {
      account.reward(key, 1).catch(() => undefined);
    };
  }

  /** Express middleware for one kind: mount before the route's handler. */
  middleware(kind: ThrottleKind, accountOf: (req: Request) => string | undefined = emailOf): RequestHandler {
    return async (req, res, next) => {
      const succeeded = await this.attempt(kind, { address: clientAddress(req), account: accountOf(req) });
      res.once('finish', () => {
        if (res.statusCode < 400) succeeded();
      });
      next();
    };
  }
}

/**
 * Anonymous requests per client address and minute. Fails open whatever
 * RATE_LIMIT_FAIL_MODE says: a store outage must not take the public face of
 * every tenant (health, sign-up, login pages) down with it.
 */
export class AddressLimiter {
  private readonly limiter: RateLimiterAbstract;
  private readonly store: StoreOptions;

  constructor(
    store: StoreOptions,
    private readonly opts: { enabled: boolean; perMinute: number },
  ) {
    this.store = { ...store, failMode: 'open' };
    this.limiter = limiter(store, 'anon', opts.perMinute, 60);
  }

  async admit(address: string): Promise<void> {
    if (this.opts.enabled) await consume(this.store, this.limiter, address, 'anonymous requests from this address');
  }
}
