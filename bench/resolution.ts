// bench/README.md: the tenant-resolving middleware on a cached tenant keeps ≥ 0.9×
// the throughput of bare Express; an uncached resolution takes < 1 ms at p50.
import express from 'express';
import { errorHandler } from '../actions-server/src/http/handlers.ts';
import { tenantContext } from '../actions-server/src/http/middleware.ts';
import { request } from '../tests/support/http.ts';
import { BENCH_BASE_DOMAIN } from './support/cluster.ts';
import { insertRegistryTenants } from './support/fill.ts';
import { compareHttp } from './support/http-load.ts';
import { listen, startProjectServer } from './support/servers.ts';
import { summarize, timed } from './support/stats.ts';
import { sized, type Benchmark } from './support/types.ts';

const CONNECTIONS = 50;

export const resolution: Benchmark = {
  name: 'resolution',
  title: 'tenant resolution: bare Express vs the resolving middleware (cached); uncached lookups',
  rows: () => [
    {
      id: 'cached-rps',
      metric: `req/s, cached tenant host, ${CONNECTIONS} connections: bare Express vs + tenantContext`,
      unit: 'req/s',
      target: { kind: 'ratio', op: '>=', limit: 0.9 },
    },
    { id: 'cached-p99', metric: 'p99 latency under that load', unit: 'ms', target: { kind: 'info', text: 'info' } },
    {
      id: 'uncached-p50',
      metric: 'uncached resolution p50 (cache cleared each time; baseline: SELECT 1 on the same pool)',
      unit: 'ms',
      target: { kind: 'absolute', op: '<', limit: 1, unit: 'ms' },
    },
    { id: 'uncached-p99', metric: 'uncached resolution p99', unit: 'ms', target: { kind: 'info', text: 'info' } },
  ],

  async run(ctx) {
    const registryTenants = sized(ctx.scale, { tiny: 20, default: 1_000 });
    const lookups = sized(ctx.scale, { tiny: 200, default: 5_000 });
    const seconds = sized(ctx.scale, { tiny: 1, default: 3 });
    const db = await ctx.cluster.createDb('resolution');
    const project = await startProjectServer(db);
    const servers: { close(): Promise<void> }[] = [];
    try {
      const slugs = await insertRegistryTenants(db.pool, registryTenants);
      const slug = slugs[0]!;
      const host = `${slug}.${BENCH_BASE_DOMAIN}`;

      // The same route twice: bare, and behind the project's resolution middleware.
      const bare = express();
      bare.get('/bench', (_req, res) => {
        res.json({ tenant: slug });
      });
      const resolving = express();
      resolving.use(tenantContext(project.ctx));
      resolving.get('/bench', (req, res) => {
        res.json({ tenant: req.tenant?.slug ?? null });
      });
      resolving.use(errorHandler(project.ctx.log));
      const bareServer = await listen(bare);
      const resolvingServer = await listen(resolving);
      servers.push(bareServer, resolvingServer);

      const answer = await request<{ tenant: string }>(resolvingServer.url, '/bench', { host });
      ctx.check('the resolving route answers with the tenant of its Host', slug, answer.body.tenant);
      const unknown = await request<{ error: { code: string } }>(resolvingServer.url, '/bench', { host: `nobody.${BENCH_BASE_DOMAIN}` });
      ctx.check('an unknown tenant host gets 404 TENANT_NOT_FOUND', [404, 'TENANT_NOT_FOUND'], [unknown.status, unknown.body.error.code]);

      ctx.progress(`cached: ${CONNECTIONS} connections, ${seconds} s per side and round`);
      const load = (url: string) => ({
        url: `${url}/bench`,
        connections: CONNECTIONS,
        durationSeconds: seconds,
        method: 'GET' as const,
        headers: { host },
      });
      const http = await compareHttp({
        baseline: load(bareServer.url),
        project: load(resolvingServer.url),
        rounds: sized(ctx.scale, { tiny: 1, default: 7 }),
        ...(ctx.scale === 'tiny' ? {} : { warmup: { durationSeconds: 2 } }),
      });
      ctx.check(
        'every cached request answered 2xx (baseline, project)',
        [0, 0, 0, 0],
        [http.baseline.non2xx, http.baseline.errors, http.project.non2xx, http.project.errors],
      );

      ctx.progress(`uncached: ${lookups} lookups over ${registryTenants} tenants`);
      const resolver = project.ctx.resolver;
      const base: number[] = [];
      const uncached: number[] = [];
      let wrong = 0;
      for (let i = 0; i < lookups; i++) {
        const want = slugs[(i * 7919) % slugs.length]!;
        base.push((await timed(() => db.pool.query('select 1'))).ms);
        resolver.clear();
        const { ms, result } = await timed(() => resolver.resolve({ kind: 'slug', slug: want }));
        uncached.push(ms);
        if (result?.slug !== want) wrong++;
      }
      ctx.check('every uncached lookup resolved the right tenant', 0, wrong);
      const b = summarize(base);
      const p = summarize(uncached);

      return {
        'cached-rps': { baseline: http.baseline.requestsPerSecond, project: http.project.requestsPerSecond },
        'cached-p99': { baseline: http.baseline.p99, project: http.project.p99, note: 'autocannon resolves whole milliseconds' },
        'uncached-p50': { baseline: b.p50, project: p.p50 },
        'uncached-p99': { baseline: b.p99, project: p.p99 },
      };
    } finally {
      for (const s of servers) await s.close();
      await project.close();
      await db.close();
    }
  },
};
