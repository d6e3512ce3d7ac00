// bench/README.md: the Hasura auth webhook (JWT verify, tenant resolution from
// the forwarded Host, membership lookup, rate limit on Redis, API-call count)
// keeps ≥ 0.6× the throughput of a bare Express handler and a p99 ≤ 2× its p99,
// at 50 connections. The mix rows hold it to the same targets with 1,000
// tenants, each called by a member's session token and by an API key in turn:
// after the first call of each, every check is answered from the same caches as
// with one tenant, so the per-request work (and the target) is the same.
import { randomBytes } from 'node:crypto';
import express from 'express';
import { hashApiKey } from '../actions-server/src/apikeys/verify.ts';
import { AUTH_WEBHOOK_PATH } from '../actions-server/src/hasura/auth-webhook.ts';
import { request } from '../tests/support/http.ts';
import { BENCH_BASE_DOMAIN } from './support/cluster.ts';
import { compareHttp, type CannonOptions } from './support/http-load.ts';
import { connectRedis, forEachKeyBatch } from './support/redis.ts';
import { insertRegistryTenants } from './support/fill.ts';
import { listen, startProjectServer } from './support/servers.ts';
import { overrideLimits, signUp } from './support/tenants.ts';
import { NotMeasured, sized, type Benchmark } from './support/types.ts';
import type { BenchDb } from './support/cluster.ts';
import type { RunningServer } from '../actions-server/src/server.ts';

const CONNECTIONS = 50;
const LIFTED = { rate_limit_per_minute: 2_000_000_000, rate_limit_per_hour: 2_000_000_000 };

/** An API key of the shape apikeys/service.ts issues. */
function apiKey(i: number): string {
  const prefix = `sk_mix${String(i).padStart(9, '0')}`;
  return `${prefix}.${randomBytes(32).toString('base64url')}`;
}

/**
 * `count` registry tenants (enterprise, rate limits lifted like the main row's
 * tenant), each with a member holding a live session and an API key; returns
 * one webhook body per credential, alternating token and key, tenant by tenant.
 */
async function mixBodies(db: BenchDb, project: RunningServer, count: number): Promise<{ bodies: string[]; tenantIds: string[] }> {
  const slugs = await insertRegistryTenants(db.pool, count, 'enterprise');
  const { rows } = await db.pool.query<{ tenant_id: string; slug: string; identity_id: string; session_id: string }>(
    `with t as (select id, slug from public.tenants where slug = any($1)),
          s as (update public.tenant_settings set limit_overrides = limit_overrides || $2::jsonb where tenant_id in (select id from t)),
          i as (insert into public.identities (email, name)
                select 'member@' || t.slug || '.bench.example.com', 'Member of ' || t.slug from t returning id, email),
          m as (insert into public.memberships (tenant_id, identity_id, role)
                select t.id, i.id, 'member' from t join i on i.email = 'member@' || t.slug || '.bench.example.com'
                returning tenant_id, identity_id),
          ses as (insert into public.auth_sessions (identity_id, scope_tenant_id, role, expires_at)
                  select identity_id, tenant_id, 'member', now() + interval '1 day' from m returning id, identity_id, scope_tenant_id)
     select t.id as tenant_id, t.slug, ses.identity_id, ses.id as session_id from t join ses on ses.scope_tenant_id = t.id order by t.slug`,
    [slugs, JSON.stringify(LIFTED)],
  );
  const bodies: string[] = [];
  for (const [i, r] of rows.entries()) {
    const key = apiKey(i);
    await db.pool.query(
      `insert into public.tenant_api_keys (tenant_id, name, prefix, key_hash, role) values ($1, 'bench', $2, $3, 'member')`,
      [r.tenant_id, key.split('.')[0], hashApiKey(key)],
    );
    const { token } = project.ctx.tokens.sign({ userId: r.identity_id, tenantId: r.tenant_id, role: 'member', sessionId: r.session_id });
    const host = `${r.slug}.${BENCH_BASE_DOMAIN}`;
    for (const credential of [token, key]) {
      bodies.push(
        JSON.stringify({ headers: { Host: host, Authorization: `Bearer ${credential}` }, request: { query: 'query { __typename }' } }),
      );
    }
  }
  return { bodies, tenantIds: rows.map((r) => r.tenant_id) };
}

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
    {
      id: 'mix-rps',
      metric: `req/s at ${CONNECTIONS} connections, 1,000 tenants, a session token and an API key each, in turn: bare Express vs the auth webhook`,
      unit: 'req/s',
      target: { kind: 'ratio', op: '>=', limit: 0.6 },
    },
    { id: 'mix-p99', metric: 'p99 latency, same mix', unit: 'ms', target: { kind: 'ratio', op: '<=', limit: 2 } },
  ],

  async run(ctx) {
    const redisUrl = ctx.cluster.redisUrl;
    if (!redisUrl) throw new NotMeasured('REDIS_URL is not set (the target includes the rate limit on Redis)');
    const amount = sized(ctx.scale, { tiny: 500, default: 15_000 });
    const rounds = sized(ctx.scale, { tiny: 1, default: 5 });
    // No warm-up at the tiny size: it checks that the rows are produced, not what they measure.
    const warmup = ctx.scale === 'tiny' ? {} : { warmup: { amount: 3_000 } };
    const db = await ctx.cluster.createDb('auth_webhook');
    const keyPrefix = `bench:${db.rolePrefix}`;
    // Tokens that outlive a slow run on a loaded machine: an expired one would turn the load into 401s.
    const project = await startProjectServer(db, { RATE_LIMIT_KEY_PREFIX: keyPrefix, JWT_EXPIRES_IN_SECONDS: '7200' });
    let bare: { url: string; close(): Promise<void> } | undefined;
    let closed = false;
    try {
      // An enterprise tenant (API calls unlimited) whose rate limits are lifted for
      // this run: the load must measure admitted requests, not 401s from the limiter,
      // while the limiter and the API-call count still run on every request.
      const { tenant, ownerId } = await signUp(db, 'bench-hook', { plan: 'enterprise' });
      await overrideLimits(db, tenant.id, LIFTED);
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
      const http = await compareHttp({ baseline: load(bare.url), project: load(project.url), rounds, ...warmup });
      const mixTenants = sized(ctx.scale, { tiny: 20, default: 1_000 });
      ctx.progress(`mix: ${mixTenants} tenants, a session token and an API key each`);
      const mix = await mixBodies(db, project, mixTenants);
      const mixProbe = await Promise.all(
        mix.bodies
          .slice(0, 2)
          .map((b) => request(project.url, AUTH_WEBHOOK_PATH, { rawBody: b, headers: { 'content-type': 'application/json' } })),
      );
      ctx.check(
        'the webhook answers 200 for a tenant of the mix, by token and by API key',
        [200, 200],
        mixProbe.map((r) => r.status),
      );
      const mixLoad = (url: string): CannonOptions => ({ ...load(url), body: undefined, bodies: mix.bodies });
      const mixHttp = await compareHttp({ baseline: mixLoad(bare.url), project: mixLoad(project.url), rounds, ...warmup });

      const projectRuns = [...http.rounds, ...mixHttp.rounds].map((r) => r.project);
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
        `select sum(calls)::text as n from public.tenant_api_calls where tenant_id = any($1) and endpoint = 'graphql'`,
        [[tenant.id, ...mix.tenantIds]],
      );
      ctx.check(
        'tenant_api_calls counted every webhook request exactly once',
        1 + mixProbe.length + projectRuns.reduce((n, r) => n + r.ok2xx, 0),
        Number(counted.rows[0]?.n ?? 0),
      );

      const note = 'autocannon resolves whole milliseconds';
      return {
        rps: { baseline: http.baseline.requestsPerSecond, project: http.project.requestsPerSecond },
        p99: { baseline: http.baseline.p99, project: http.project.p99, note },
        p50: { baseline: http.baseline.p50, project: http.project.p50, note },
        'mix-rps': { baseline: mixHttp.baseline.requestsPerSecond, project: mixHttp.project.requestsPerSecond },
        'mix-p99': { baseline: mixHttp.baseline.p99, project: mixHttp.project.p99, note },
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
