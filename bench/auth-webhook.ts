// bench/README.md: the Hasura auth webhook (JWT verify, tenant resolution from
// the forwarded Host, membership lookup, rate limit on Redis, API-call count)
// keeps ≥ 0.6× the throughput of a bare Express handler and a p99 ≤ 2× its p99,
// at 50 connections.
import express from 'express';
import { AUTH_WEBHOOK_PATH } from '../actions-server/src/hasura/auth-webhook.ts';
import { request } from '../tests/support/http.ts';
import { BENCH_BASE_DOMAIN } from './support/cluster.ts';
import { compareHttp, type CannonOptions } from './support/http-load.ts';
import { connectRedis, forEachKeyBatch } from './support/redis.ts';
import { listen, startProjectServer } from './support/servers.ts';
import { overrideLimits, signUp } from './support/tenants.ts';
import { NotMeasured, sized, type Benchmark } from './support/types.ts';

const CONNECTIONS = 50;

export const authWebhook: Benchmark = {
  name: 'auth-webhook',
  title: 'Hasura auth webhook: bare Express handler vs POST /hasura/auth',
  rows: () => [
    {
      id: 'rps',
      metric: `req/s at ${CONNECTIONS} connections: bare Express handler vs the auth webhook`,
      unit: 'req/s',
      target: { kind: 'ratio', op: '>=', limit: 0.6 },
    },
    { id: 'p99', metric: 'p99 latency, same load', unit: 'ms', target: { kind: 'ratio', op: '<=', limit: 2 } },
    { id: 'p50', metric: 'p50 latency, same load', unit: 'ms', target: { kind: 'info', text: 'info' } },
  ],

  async run(ctx) {
    const redisUrl = ctx.cluster.redisUrl;
    if (!redisUrl) throw new NotMeasured('REDIS_URL is not set (the target includes the rate limit on Redis)');
    const amount = sized(ctx.scale, { tiny: 500, default: 30_000 });
    const rounds = sized(ctx.scale, { tiny: 1, default: 2 });
    const warmup = sized(ctx.scale, { tiny: 100, default: 3_000 });
    const db = await ctx.cluster.createDb('auth_webhook');
    const keyPrefix = `bench:${db.rolePrefix}`;
    const project = await startProjectServer(db, { RATE_LIMIT_KEY_PREFIX: keyPrefix });
    let bare: { url: string; close(): Promise<void> } | undefined;
    let closed = false;
    try {
      // An enterprise tenant (API calls unlimited) whose rate limits are lifted for
      // this run: the load must measure admitted requests, not 401s from the limiter,
      // while the limiter and the API-call count still run on every request.
      const { tenant, ownerId } = await signUp(db, 'bench-hook', { plan: 'enterprise' });
      await overrideLimits(db, tenant.id, { rate_limit_per_minute: 2_000_000_000, rate_limit_per_hour: 2_000_000_000 });
      const { token } = project.ctx.tokens.sign({ userId: ownerId, tenantId: tenant.id, role: 'owner' });
      const host = `${tenant.slug}.${BENCH_BASE_DOMAIN}`;
      // What Hasura POSTs: every client header (Host included) and the GraphQL request.
      const body = JSON.stringify({
        headers: { Host: host, Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        request: { query: 'query { __typename }', variables: {}, operationName: null },
      });

      const session = { 'X-Hasura-Role': 'owner', 'X-Hasura-User-Id': ownerId, 'X-Hasura-Tenant-Id': tenant.id };
      const app = express();
      app.use(express.json());
      app.post(AUTH_WEBHOOK_PATH, (_req, res) => {
        res.json(session);
      });
      bare = await listen(app);

      const probe = await request<Record<string, string>>(project.url, AUTH_WEBHOOK_PATH, {
        rawBody: body,
        headers: { 'content-type': 'application/json' },
      });
      ctx.check(
        'the webhook answers 200 with the tenant and user of the token',
        [200, tenant.id, ownerId],
        [probe.status, probe.body['X-Hasura-Tenant-Id'], probe.body['X-Hasura-User-Id']],
      );

      const load = (url: string): CannonOptions => ({
        url: `${url}${AUTH_WEBHOOK_PATH}`,
        connections: CONNECTIONS,
        amount,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      ctx.progress(`${amount} requests per side per round, ${rounds} round(s), ${CONNECTIONS} connections`);
      const http = await compareHttp({ baseline: load(bare.url), project: load(project.url), rounds, warmup: { amount: warmup } });
      const projectRuns = http.rounds.map((r) => r.project);
      ctx.check(
        'every webhook request answered 2xx',
        0,
        projectRuns.reduce((n, r) => n + r.non2xx + r.errors, 0),
      );

      // Every admitted request is one API call: the count must match exactly
      // (closing the server flushes the batched counter).
      await project.close();
      closed = true;
      const counted = await db.pool.query<{ n: string | null }>(
        `select sum(calls)::text as n from public.tenant_api_calls where tenant_id = $1 and endpoint = 'graphql'`,
        [tenant.id],
      );
      ctx.check(
        'tenant_api_calls counted every webhook request exactly once',
        1 + projectRuns.reduce((n, r) => n + r.ok2xx, 0),
        Number(counted.rows[0]?.n ?? 0),
      );

      const note = 'autocannon resolves whole milliseconds';
      return {
        rps: { baseline: http.baseline.requestsPerSecond, project: http.project.requestsPerSecond },
        p99: { baseline: http.baseline.p99, project: http.project.p99, note },
        p50: { baseline: http.baseline.p50, project: http.project.p50, note },
      };
    } finally {
      await bare?.close();
      if (!closed) await project.close();
      // The server's Redis client is closed with it: remove this run's rate-limit keys with one of our own.
      const redis = connectRedis(redisUrl);
      await forEachKeyBatch(redis, `${keyPrefix}*`, async (keys) => void (await redis.del(...keys))).finally(() => redis.disconnect());
      await db.close();
    }
  },
};
