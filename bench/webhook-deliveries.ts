// Webhook delivery budget: ≥ 500 deliveries/s to a local receiver that fails
// 30% of requests, every delivery signed (each one verified with the
// `standardwebhooks` library) and none lost or duplicated. Events are emitted
// the way triggers emit them (public.webhook_emit); the project side is the
// delivery job's own loop (claim, sign, send, record, retry), with the retry
// waits skipped by moving due times, as tests do. The baseline signs and posts
// the same payloads to the same receiver with the same concurrency, no database.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { deliverDue, sendOnce } from '../actions-server/src/webhooks/delivery.ts';
import { newSigningSecret } from '../actions-server/src/webhooks/service.ts';
import { insertRegistryTenants } from './support/fill.ts';
import { startProjectServer } from './support/servers.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';

const FAILURE_RATE = 0.3;
/** Attempts of one event the receiver may fail: below the job's MAX_ATTEMPTS, so a run never loses an event to bad luck (0.3^8 over 10,000 events would about every other run). */
const FAILABLE_ATTEMPTS = 3;
const CONCURRENCY = 50;
const shapeFor = (scale: Scale) => sized(scale, { tiny: { tenants: 4, perTenant: 25 }, default: { tenants: 20, perTenant: 500 } });

interface Receiver {
  url: string;
  /** 2xx answers per webhook-id. */
  accepted: Map<string, number>;
  requests: number;
  badSignatures: number;
  close(): Promise<void>;
}

/** Fails ~30% of an event's first attempts (500), verifies every signature, counts accepted deliveries per webhook-id. */
async function startReceiver(secrets: Map<string, string>): Promise<Receiver> {
  const state = { accepted: new Map<string, number>(), requests: 0, badSignatures: 0 };
  const seen = new Map<string, number>();
  const verifiers = new Map<string, Webhook>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      const path = req.url ?? '';
      const secret = secrets.get(path);
      if (secret && !verifiers.has(path)) verifiers.set(path, new Webhook(secret));
      const headers = {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      };
      try {
        verifiers.get(path)!.verify(Buffer.concat(chunks).toString('utf8'), headers);
      } catch {
        state.badSignatures++;
        res.writeHead(400).end();
        return;
      }
      const attempt = (seen.get(headers['webhook-id']) ?? 0) + 1;
      seen.set(headers['webhook-id'], attempt);
      if (attempt <= FAILABLE_ATTEMPTS && Math.random() < FAILURE_RATE) {
        res.writeHead(500).end();
        return;
      }
      state.accepted.set(headers['webhook-id'], (state.accepted.get(headers['webhook-id']) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get accepted() {
      return state.accepted;
    },
    get requests() {
      return state.requests;
    },
    get badSignatures() {
      return state.badSignatures;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export const webhookDeliveries: Benchmark = {
  name: 'webhook-deliveries',
  title: 'webhook deliveries: sign + POST without a database vs the delivery job (claim, sign, send, record, retry)',
  rows(scale) {
    const { tenants, perTenant } = shapeFor(scale);
    return [
      {
        id: 'deliveries-s',
        metric: `${(tenants * perTenant).toLocaleString('en-US')} events to a receiver failing ${FAILURE_RATE * 100}%, ${CONCURRENCY} concurrent: delivered events/s (retries included)`,
        unit: 'deliveries/s',
        target: { kind: 'absolute', op: '>=', limit: 500, unit: 'deliveries/s' },
      },
    ];
  },

  async run(ctx) {
    const { tenants: tenantCount, perTenant } = shapeFor(ctx.scale);
    const db = await ctx.cluster.createDb('webhook_deliveries');
    const project = await startProjectServer(db, {
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_DELIVERY_CONCURRENCY: String(CONCURRENCY),
      WORKER_ENABLED: 'false',
    });
    const secrets = new Map<string, string>();
    const receiver = await startReceiver(secrets);
    const baselineReceiver = await startReceiver(secrets);
    try {
      const slugs = await insertRegistryTenants(db.pool, tenantCount);
      const { rows: tenants } = await db.pool.query<{ id: string }>('select id from public.tenants where slug = any($1) order by slug', [
        slugs,
      ]);
      for (const [i, t] of tenants.entries()) {
        const secret = newSigningSecret();
        secrets.set(`/t${i}`, secret);
        await db.pool.query(
          `insert into public.webhook_endpoints (tenant_id, url, event_types, secret) values ($1, $2, array['member.added'], $3)`,
          [t.id, `${receiver.url}/t${i}`, secret],
        );
      }
      // Emitted as the membership trigger emits them, one transaction per tenant.
      for (const t of tenants) {
        await db.pool.query(
          `select public.webhook_emit($1, 'member.added', jsonb_build_object('user_id', gen_random_uuid(), 'role', 'member', 'n', s))
           from generate_series(1, $2::int) s`,
          [t.id, perTenant],
        );
      }
      const total = tenantCount * perTenant;
      const { rows: events } = await db.pool.query<{ id: string; tenant: number; payload: unknown }>(
        `select e.id, (select count(*) from public.tenants t2 where t2.slug < t.slug and t2.id = any($1))::int as tenant, e.payload
         from public.webhook_events e join public.tenants t on t.id = e.tenant_id`,
        [tenants.map((t) => t.id)],
      );

      // Baseline: sign and post each event until accepted, same concurrency, no database.
      ctx.progress(`baseline: ${total} events`);
      const baseStart = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < events.length) {
            const e = events[next++]!;
            const body = JSON.stringify(e.payload);
            const path = `/t${e.tenant}`;
            for (;;) {
              const at = new Date();
              const signature = new Webhook(secrets.get(path)!).sign(e.id, at, body);
              const r = await sendOnce(
                `${baselineReceiver.url}${path}`,
                { 'webhook-id': e.id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signature },
                body,
                { allowPrivate: true, timeoutMs: 10_000 },
              );
              if (r.ok) break;
            }
          }
        }),
      );
      const baseMs = performance.now() - baseStart;

      ctx.progress(`project: ${total} events`);
      const start = performance.now();
      let rounds = 0;
      for (;;) {
        rounds++;
        await deliverDue(project.ctx, { budgetMs: 600_000 });
        const { rows } = await db.pool.query<{ n: number }>(
          `select count(*)::int as n from public.webhook_deliveries where status = 'pending'`,
        );
        if (rows[0]!.n === 0 || rounds > 20) break;
        // The retry waits (5 s, 5 min, ...) are skipped, as tests do.
        await db.pool.query(`update public.webhook_deliveries set next_attempt_at = now() where status = 'pending'`);
      }
      const ms = performance.now() - start;

      const states = await db.pool.query<{ status: string; n: number }>(
        `select status, count(*)::int as n from public.webhook_deliveries group by status`,
      );
      ctx.check('every delivery succeeded', { succeeded: total }, Object.fromEntries(states.rows.map((r) => [r.status, r.n])));
      const counts = [...receiver.accepted.values()];
      ctx.check(
        'receiver: every event accepted exactly once (events, duplicates)',
        [total, 0],
        [receiver.accepted.size, counts.filter((c) => c > 1).length],
      );
      ctx.check('receiver: every signature verified', 0, receiver.badSignatures + baselineReceiver.badSignatures);
      const attempts = await db.pool.query<{ n: number }>(`select count(*)::int as n from public.webhook_delivery_attempts`);
      ctx.check('every request the receiver saw is logged as an attempt', receiver.requests, attempts.rows[0]!.n);
      return {
        'deliveries-s': {
          baseline: (total / baseMs) * 1000,
          project: (total / ms) * 1000,
          note: `${total} events over ${tenantCount} endpoints, ${receiver.requests} requests (${receiver.requests - total} failed and retried), ${rounds} rounds`,
        },
      };
    } finally {
      await receiver.close();
      await baselineReceiver.close();
      await project.close();
      await db.close();
    }
  },
};
