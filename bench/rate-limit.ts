// bench/README.md: the project's rate-limit check (minute and hour windows, the
// tenant's plan limits) has a p99 ≤ 1.5× that of bare rate-limiter-flexible
// calls for the same two windows, at 5,000 checks/s open loop on local Redis.
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { createLogger } from '../actions-server/src/core/log.ts';
import { buildLimits, stopLimits } from '../actions-server/src/limits/wiring.ts';
import { insertRegistryTenants } from './support/fill.ts';
import { forEachKeyBatch } from './support/redis.ts';
import { openLoop, type OpenLoopResult } from './support/stats.ts';
import { NotMeasured, sized, type Benchmark, type Scale } from './support/types.ts';

const rateFor = (scale: Scale): number => sized(scale, { tiny: 1_000, default: 5_000 });
// The custom plan (600 a minute, 30,000 an hour): tenants are never throttled here,
// so both sides take the path of an admitted request.
const PLAN = 'custom';

export const rateLimit: Benchmark = {
  name: 'rate-limit',
  title: 'rate-limit check: bare rate-limiter-flexible (minute + hour) vs RateLimitService.check, open loop on Redis',
  rows: (scale) => [
    {
      id: 'p99',
      metric: `check p99 at ${rateFor(scale).toLocaleString('en-US')} checks/s open loop: bare library vs the project's check`,
      unit: 'ms',
      target: { kind: 'ratio', op: '<=', limit: 1.5 },
    },
    { id: 'p50', metric: 'check p50, same load', unit: 'ms', target: { kind: 'info', text: 'info' } },
  ],

  async run(ctx) {
    const redisUrl = ctx.cluster.redisUrl;
    if (!redisUrl) throw new NotMeasured('REDIS_URL is not set (the target is defined on local Redis)');
    const rate = rateFor(ctx.scale);
    const durationMs = sized(ctx.scale, { tiny: 1_000, default: 10_000 });
    const rounds = sized(ctx.scale, { tiny: 1, default: 2 });
    const tenantCount = sized(ctx.scale, { tiny: 20, default: 500 });
    const db = await ctx.cluster.createDb('rate_limit');
    const prefix = `bench:${db.rolePrefix}`;
    const env = db.env({ RATE_LIMIT_KEY_PREFIX: prefix });
    const services = await buildLimits(env, createLogger('silent'), db.pool);
    const redis = services.redis;
    try {
      if (!redis) throw new Error('buildLimits made no Redis client although REDIS_URL is set');
      const slugs = await insertRegistryTenants(db.pool, tenantCount, PLAN);
      const { rows } = await db.pool.query<{ id: string }>('select id from public.tenants where slug = any($1) order by slug', [slugs]);
      const tenants = rows.map((r) => ({ id: r.id, plan: PLAN }));
      const plan = (
        await db.pool.query<{ m: number; h: number }>(
          'select rate_limit_per_minute as m, rate_limit_per_hour as h from public.plans where id = $1',
          [PLAN],
        )
      ).rows[0]!;
      // The bare library: the same two windows and points, on the same Redis connection.
      const bare = [
        new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}bare:minute`, points: plan.m, duration: 60 }),
        new RateLimiterRedis({ storeClient: redis, keyPrefix: `${prefix}bare:hour`, points: plan.h, duration: 3_600 }),
      ];
      const checkBare = (i: number) => Promise.all(bare.map((l) => l.consume(tenants[i % tenants.length]!.id)));
      const checkProject = (i: number) => services.rateLimits.check(tenants[i % tenants.length]!);

      let issuedBare = 0;
      let issuedProject = 0;
      const run = async (side: 'bare' | 'project', ms: number): Promise<OpenLoopResult> => {
        const result = await openLoop({ ratePerSecond: rate, durationMs: ms, call: side === 'bare' ? checkBare : checkProject });
        const issued = Math.max(1, Math.round((rate * ms) / 1000));
        if (side === 'bare') issuedBare += issued;
        else issuedProject += issued;
        return result;
      };
      // Warm-up: limiter objects, the plan-limits cache, the Redis script cache.
      await run('bare', Math.min(1_000, durationMs));
      await run('project', Math.min(1_000, durationMs));
      const results: { bare: OpenLoopResult; project: OpenLoopResult }[] = [];
      for (let r = 0; r < rounds; r++) {
        ctx.progress(`round ${r + 1}/${rounds}: ${rate}/s for ${durationMs / 1000} s each side`);
        results.push({ bare: await run('bare', durationMs), project: await run('project', durationMs) });
      }
      const errors = results.flatMap((r) => [r.bare.errors, r.project.errors]);
      ctx.check(
        'no check failed or was refused on either side',
        errors.map(() => 0),
        errors,
      );
      // Reported, not checked: a saturated machine lowers it, and the reader should know.
      const achieved = Math.min(...results.flatMap((r) => [r.bare.achievedPerSecond, r.project.achievedPerSecond]));

      // Exactly one count per check and window, on both sides, in Redis itself.
      const sums = new Map<string, number>();
      await forEachKeyBatch(redis, `${prefix}*`, async (keys) => {
        const values = await redis.mget(keys);
        keys.forEach((k, i) => {
          const kind = `${k.includes('bare:') ? 'bare' : 'project'}:${k.includes(':minute') ? 'minute' : 'hour'}`;
          sums.set(kind, (sums.get(kind) ?? 0) + Number(values[i] ?? 0));
        });
      });
      ctx.check(
        'Redis holds exactly one count per check in each window (bare minute, bare hour, project minute, project hour)',
        [issuedBare, issuedBare, issuedProject, issuedProject],
        [sums.get('bare:minute') ?? 0, sums.get('bare:hour') ?? 0, sums.get('project:minute') ?? 0, sums.get('project:hour') ?? 0],
      );

      // Each side's best round (lowest p99): the one least disturbed by other work on the machine.
      const pick = (side: 'bare' | 'project') => results.map((r) => r[side].latency).reduce((best, l) => (l.p99 < best.p99 ? l : best));
      const b = pick('bare');
      const p = pick('project');
      const note = `${tenantCount} tenants on the ${PLAN} plan; offered ${rate}/s, lowest achieved ${Math.round(achieved)}/s; latency from issue to answer, in process`;
      return { p99: { baseline: b.p99, project: p.p99, note }, p50: { baseline: b.p50, project: p.p50 } };
    } finally {
      if (redis) await forEachKeyBatch(redis, `${prefix}*`, async (keys) => void (await redis.del(...keys)));
      await stopLimits(services);
      await db.close();
    }
  },
};
