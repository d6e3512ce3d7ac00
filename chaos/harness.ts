// The chaos check: the real server as a child process on a database of its
// own, under a mixed workload (sign-ups, logins, Stripe webhook deliveries,
// tenant writes as each tier's own role), while the server is SIGKILLed and
// restarted and busy database backends are terminated. Then the data
// invariants are checked, and that the server never exited on its own.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createLogger } from '../actions-server/src/core/log.ts';
import type { Pool } from '../actions-server/src/db/tx.ts';
import { tenantDatabases } from '../actions-server/src/server.ts';
import { withTenantData } from '../actions-server/src/tenants/data.ts';
import type { TenantDatabases } from '../actions-server/src/tenants/databases.ts';
import type { Isolation, TenantRow } from '../actions-server/src/tenants/records.ts';
import { hashPassword } from '../actions-server/src/auth/passwords.ts';
import { openCluster, type BenchCluster, type BenchDb } from '../bench/support/cluster.ts';
import { freePort } from '../tests/support/global-setup.ts';
import { request } from '../tests/support/http.ts';
import { spawnServer, type LogLine, type ServerProcess } from '../tests/support/server-process.ts';
import { startStripeDouble, type StripeDouble } from '../tests/support/stripe-double.ts';
import { buildEvent, checkoutSessionObject, nowSeconds, signEvent, subscriptionJson } from '../tests/support/stripe-events.ts';
import { databaseRefOf, tenantPlacementOf, type TenantPlacement } from '../actions-server/src/tenants/placement.ts';

export interface ChaosOptions {
  seconds: number;
  /** SIGKILL and restart the server this long after it is serving again. */
  killEveryMs: number;
  /** Terminate half of the busy backends this often. */
  terminateEveryMs: number;
  /** Concurrent workload loops. */
  workers: number;
  /** A server where databases may be created (default DATABASE_URL, else embedded) and a migrated template. */
  adminUrl?: string;
  template?: string;
  progress?: (line: string) => void;
}

export interface Invariant {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ChaosReport {
  options: Omit<ChaosOptions, 'progress' | 'adminUrl' | 'template'>;
  /** Per operation: answers by status (or the client error: refused, reset, ...). */
  operations: Record<string, Record<string, number>>;
  kills: number;
  terminated: number;
  /** Exits the harness did not cause (must be none). */
  selfCrashes: string[];
  /** Log lines about uncaught exceptions or unhandled rejections (must be none). */
  uncaught: string[];
  /** Exit of the final SIGTERM (graceful: code 0). */
  finalExit: string;
  invariants: Invariant[];
  ok: boolean;
}

const BASE_DOMAIN = 'saas.test';
const WEBHOOK_SECRET = 'whsec_chaos_secret';
const PRICE_PRO_MONTH = 'price_chaos_pro_month';
const PASSWORD = 'chaos password 123';
const TIERS: Isolation[] = ['schema', 'pooled', 'database'];
const FREE_CHANNELS = 5;
const BILLING_TENANTS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;
const hostOf = (slug: string) => `${slug}.${BASE_DOMAIN}`;

function outcomeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}

class Tally {
  readonly ops: Record<string, Record<string, number>> = {};
  add(op: string, outcome: string | number): void {
    const o = (this.ops[op] ??= {});
    o[String(outcome)] = (o[String(outcome)] ?? 0) + 1;
  }
}

interface BillingTenant {
  id: string;
  slug: string;
  customer: string;
  subscription: string;
  /** Events in order; `next` is the first not yet acknowledged. */
  events: { id: string; status: string; body: object }[];
  next: number;
  busy: boolean;
}

interface TierTenant {
  row: TenantRow;
  placement: TenantPlacement;
  ownerEmail: string;
  memberId: string;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const say = opts.progress ?? (() => undefined);
  const cluster: BenchCluster = await openCluster({
    ...(opts.adminUrl ? { adminUrl: opts.adminUrl } : {}),
    ...(opts.template ? { template: opts.template } : {}),
  });
  let db: BenchDb | undefined;
  let double: StripeDouble | undefined;
  let server: ServerProcess | undefined;
  let databases: TenantDatabases | undefined;
  try {
    db = await cluster.createDb('chaos');
    double = await startStripeDouble();
    const port = await freePort();
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      TENANT_ROLE_PREFIX: db.rolePrefix,
      BASE_DOMAIN,
      JWT_SECRET: randomBytes(32).toString('base64url'),
      RATE_LIMIT_ENABLED: 'false',
      DB_POOL_MAX: '10',
      DB_POOL_ACQUIRE_TIMEOUT_MS: '3000',
      SHUTDOWN_GRACE_MS: '10000',
      STRIPE_SECRET_KEY: 'sk_test_chaos',
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      STRIPE_API_BASE: double.url,
      STRIPE_PRICE_PRO_MONTHLY: PRICE_PRO_MONTH,
      USAGE_FLUSH_INTERVAL_MS: '200',
    };
    const tally = new Tally();
    const selfCrashes: string[] = [];
    const allLogs: LogLine[][] = [];
    let expectingExit = false;
    const start = () => {
      const s = spawnServer(port, env);
      allLogs.push(s.logs);
      void s.exited.then(({ code, signal }) => {
        if (!expectingExit)
          selfCrashes.push(
            `exit code ${code} signal ${signal}: ${s.logs
              .slice(-3)
              .map((l) => l.msg)
              .join(' | ')}`,
          );
      });
      return s;
    };
    server = start();
    await server.waitReady(120_000);
    say('server ready; setting up tenants');

    // --- setup: one free tenant per tier (a platform admin places them), billing tenants ---
    const admin = { email: 'ops@chaos.example.com', password: PASSWORD };
    await db.pool.query(`insert into public.identities (email, name, password_hash, is_platform_admin) values ($1, 'Ops', $2, true)`, [
      admin.email,
      await hashPassword(admin.password),
    ]);
    const adminLogin = await request<{ token: string }>(server.url, '/api/auth/login', { body: admin });
    if (adminLogin.status !== 200) throw new Error(`platform admin login: ${adminLogin.status} ${adminLogin.text}`);
    const signUpBody = (slug: string, extra: object = {}) => ({
      name: `Chaos ${slug}`,
      slug,
      ownerEmail: `owner@${slug}.example.com`,
      ownerName: 'Owner',
      ownerPassword: PASSWORD,
      plan: 'free',
      ...extra,
    });
    // Placed by a platform admin: one per tier. Billing tenants sign up as anyone would.
    const created = await Promise.all([
      ...TIERS.map((isolation) =>
        request(server!.url, '/api/tenants/create', { token: adminLogin.body.token, body: signUpBody(`tier-${isolation}`, { isolation }) }),
      ),
      ...Array.from({ length: BILLING_TENANTS }, (_, i) => request(server!.url, '/api/tenants/create', { body: signUpBody(`pay-${i}`) })),
    ]);
    const refused = created.filter((r) => r.status !== 201);
    if (refused.length) throw new Error(`setup sign-ups refused: ${refused.map((r) => `${r.status} ${r.text}`).join('; ')}`);
    databases = tenantDatabases(db.env(), createLogger('silent'), db.pool, db.url);
    const pools = { pool: db.pool, databases };
    const tiers: TierTenant[] = [];
    for (const isolation of TIERS) {
      const row = (await db.pool.query<TenantRow>('select * from public.tenants where slug = $1', [`tier-${isolation}`])).rows[0]!;
      const placement = tenantPlacementOf(row);
      const memberId = await withTenantData(
        pools,
        placement,
        undefined,
        async (c) => (await c.query<{ id: string }>('select id from members limit 1')).rows[0]!.id,
      );
      tiers.push({ row, placement, ownerEmail: `owner@tier-${isolation}.example.com`, memberId });
      // One channel to write messages into.
      await withTenantData(pools, placement, undefined, (c) =>
        c.query(`insert into channels (name, created_by) values ('general', $1)`, [memberId]),
      );
    }
    // Per billing tenant: checkout, then the subscription flipping between active and past_due.
    const eventsEach = Math.max(6, opts.seconds);
    const billing: BillingTenant[] = [];
    for (let i = 0; i < BILLING_TENANTS; i++) {
      const slug = `pay-${i}`;
      const id = (await db.pool.query<{ id: string }>('select id from public.tenants where slug = $1', [slug])).rows[0]!.id;
      const customer = double.putCustomer({ metadata: { tenant_id: id } }).id;
      const metadata = { tenant_id: id, plan: 'pro', interval: 'month' };
      const sub = double.putSubscription({ customer, priceId: PRICE_PRO_MONTH, status: 'active', metadata });
      const base = nowSeconds() - 3600;
      const events: BillingTenant['events'] = [];
      const session = checkoutSessionObject({ customer, subscription: sub.id, clientReferenceId: id, metadata });
      events.push({ id: '', status: 'active', body: buildEvent('checkout.session.completed', session, { created: base }) });
      for (let k = 1; k < eventsEach; k++) {
        const status = k % 2 === 1 ? 'past_due' : 'active';
        const obj = subscriptionJson({ id: sub.id, customer, priceId: PRICE_PRO_MONTH, status, metadata, created: sub.created });
        events.push({ id: '', status, body: buildEvent('customer.subscription.updated', obj, { created: base + k * 10 }) });
      }
      for (const e of events) e.id = (e.body as { id: string }).id;
      billing.push({ id, slug, customer, subscription: sub.id, events, next: 0, busy: false });
    }

    // --- workload ---------------------------------------------------------------------
    const signedUp = new Map<string, number>(); // slug -> status
    let seq = 0;
    let stopAt = Date.now() + opts.seconds * 1000;
    const http = async (op: string, fn: () => Promise<{ status: number; body: unknown }>) => {
      try {
        const res = await fn();
        // 503s by code: SERVICE_UNAVAILABLE (booting or draining) or DATABASE_UNAVAILABLE (a lost connection).
        const code = res.status >= 500 ? (res.body as { error?: { code?: string } } | undefined)?.error?.code : undefined;
        tally.add(op, code ? `${res.status} ${code}` : res.status);
        return res.status;
      } catch (err) {
        tally.add(op, outcomeOf(err));
        return 0;
      }
    };
    const deliver = async (b: BillingTenant) => {
      const e = b.events[b.next];
      if (!e) return;
      const { payload, header } = signEvent(e.body, WEBHOOK_SECRET);
      const status = await http('webhook', () =>
        request(server!.url, '/api/billing/webhook', { rawBody: payload, headers: { 'stripe-signature': header } }),
      );
      // 202: stored (the server's job runner applies it); 200: stored before.
      if (status === 202 || status === 200) {
        // The subscription as Stripe now holds it, should the server re-read it (a checkout's object is the session).
        const object = (e.body as { data: { object: Record<string, unknown> } }).data.object;
        if (object['object'] === 'subscription') double!.objects.set(b.subscription, object as never);
        b.next++;
      }
    };
    const ops: (() => Promise<void>)[] = [
      async () => {
        const slug = `s-${++seq}-${randomBytes(2).toString('hex')}`;
        const status = await http('sign-up', () => request(server!.url, '/api/tenants/create', { body: signUpBody(slug) }));
        signedUp.set(slug, status);
      },
      async () => {
        const t = pick(tiers);
        await http('login', () =>
          request(server!.url, '/api/auth/login', { host: hostOf(t.row.slug), body: { email: t.ownerEmail, password: PASSWORD } }),
        );
      },
      async () => {
        const b = billing.find((x) => !x.busy && x.next < x.events.length);
        if (!b) return;
        b.busy = true;
        try {
          await deliver(b);
        } finally {
          b.busy = false;
        }
      },
      async () => {
        const t = pick(tiers);
        const channel = Math.random() < 0.3;
        try {
          await withTenantData(pools, t.placement, t.memberId, async (c) => {
            if (channel)
              await c.query(`insert into channels (name, created_by) values ($1, $2)`, [`c-${randomBytes(4).toString('hex')}`, t.memberId]);
            else
              await c.query(
                `insert into messages (channel_id, member_id, body) select id, $1, 'hello' from channels where name = 'general'`,
                [t.memberId],
              );
          });
          tally.add(`write ${t.placement.isolation}`, 'ok');
        } catch (err) {
          tally.add(`write ${t.placement.isolation}`, (err as { code?: string }).code === 'SA429' ? 'limit' : outcomeOf(err));
        }
      },
    ];
    const worker = async () => {
      while (Date.now() < stopAt) await pick(ops)();
    };

    // --- chaos ----------------------------------------------------------------------------
    let kills = 0;
    let terminated = 0;
    const killer = async () => {
      for (;;) {
        await sleep(opts.killEveryMs);
        if (Date.now() >= stopAt - 500) return;
        expectingExit = true;
        server!.child.kill('SIGKILL');
        await server!.exited;
        expectingExit = false;
        kills++;
        server = start();
        // The next kill comes killEveryMs after this one is serving again (a slow boot is not cut short every time).
        await server.waitReady(Math.max(1_000, stopAt - Date.now())).catch(() => undefined);
      }
    };
    const killClient = await openAdmin(cluster.adminUrl);
    const terminator = async () => {
      for (;;) {
        await sleep(opts.terminateEveryMs);
        if (Date.now() >= stopAt) return;
        try {
          const { rows } = await killClient.query<{ pid: number }>(
            `select pid from pg_stat_activity
              where (datname = $1 or starts_with(datname, $2)) and pid <> pg_backend_pid()
                and state in ('active', 'idle in transaction')`,
            [db!.name, db!.rolePrefix],
          );
          const victims = rows.filter(() => Math.random() < 0.5);
          for (const v of victims) await killClient.query('select pg_terminate_backend($1)', [v.pid]);
          terminated += victims.length;
        } catch {
          // the admin connection itself is fine to lose for a beat
        }
      }
    };
    say(
      `chaos for ${opts.seconds} s: ${opts.workers} workers, SIGKILL every ${opts.killEveryMs} ms, terminate every ${opts.terminateEveryMs} ms`,
    );
    await Promise.all([...Array.from({ length: opts.workers }, worker), killer(), terminator()]);
    await killClient.end().catch(() => undefined);

    // --- settle: the server is up, pending webhook events are delivered to the end ----------
    say('settling');
    await server.waitReady(120_000);
    stopAt = Date.now() + 120_000;
    await Promise.all(
      billing.map(async (b) => {
        while (b.next < b.events.length && Date.now() < stopAt) await deliver(b);
      }),
    );
    // Acknowledged is stored: wait for the server's job runner to apply the backlog.
    while (Date.now() < stopAt) {
      const { rows } = await db.pool.query<{ n: number }>('select count(*)::int as n from public.stripe_webhooks where not processed');
      if (rows[0]!.n === 0) break;
      await sleep(200);
    }
    expectingExit = true;
    server.child.kill('SIGTERM');
    const exit = await server.exited;
    const finalExit = `code ${exit.code} signal ${exit.signal}`;

    // --- invariants ---------------------------------------------------------------------------
    say('checking invariants');
    const invariants = await checkInvariants(db, pools, tiers, billing, signedUp);
    invariants.push({
      name: 'graceful stop after the run exits 0',
      ok: exit.code === 0,
      detail: finalExit,
    });
    const uncaught = allLogs
      .flat()
      .filter((l) => typeof l.msg === 'string' && (l.msg.startsWith('uncaught') || l.msg.startsWith('unhandled')))
      .map((l) => JSON.stringify(l).slice(0, 400));
    invariants.push({ name: 'no self-inflicted crash', ok: selfCrashes.length === 0, detail: `${selfCrashes.length} unexpected exits` });
    invariants.push({
      name: 'no uncaught exception or unhandled rejection',
      ok: uncaught.length === 0,
      detail: `${uncaught.length} logged`,
    });
    return {
      options: { seconds: opts.seconds, killEveryMs: opts.killEveryMs, terminateEveryMs: opts.terminateEveryMs, workers: opts.workers },
      operations: tally.ops,
      kills,
      terminated,
      selfCrashes,
      uncaught,
      finalExit,
      invariants,
      ok: invariants.every((i) => i.ok),
    };
  } finally {
    if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await databases?.close().catch(() => undefined);
    await double?.close().catch(() => undefined);
    if (db) await dropTenantDatabases(cluster.adminUrl, db.rolePrefix).catch(() => undefined);
    await cluster.close();
  }
}

async function openAdmin(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function dropTenantDatabases(adminUrl: string, prefix: string): Promise<void> {
  const client = await openAdmin(adminUrl);
  try {
    const { rows } = await client.query<{ datname: string }>('select datname from pg_database where starts_with(datname, $1)', [prefix]);
    for (const r of rows) await client.query(`drop database if exists ${client.escapeIdentifier(r.datname)} with (force)`);
  } finally {
    await client.end();
  }
}

const check = (name: string, bad: string[], total: number): Invariant => ({
  name,
  ok: bad.length === 0,
  detail: bad.length ? bad.slice(0, 5).join('; ') : `${total} checked`,
});

async function checkInvariants(
  db: BenchDb,
  pools: { pool: Pool; databases: TenantDatabases },
  tiers: TierTenant[],
  billing: BillingTenant[],
  signedUp: Map<string, number>,
): Promise<Invariant[]> {
  const q = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => (await db.pool.query<R>(sql, params)).rows;
  const out: Invariant[] = [];
  const tenants = await q<TenantRow>('select * from public.tenants');

  // Sign-ups: every 201 exists; every tenant has its owner and its placement.
  const missing = [...signedUp].filter(([slug, status]) => status === 201 && !tenants.some((t) => t.slug === slug)).map(([s]) => s);
  out.push(check('every sign-up answered 201 exists', missing, [...signedUp.values()].filter((s) => s === 201).length));

  const schemas = new Set((await q<{ nspname: string }>(`select nspname from pg_namespace`)).map((r) => r.nspname));
  const roles = new Set(
    (await q<{ rolname: string }>(`select rolname from pg_roles where starts_with(rolname, $1)`, [db.rolePrefix])).map((r) => r.rolname),
  );
  const dbs = new Set(
    (await q<{ datname: string }>(`select datname from pg_database where starts_with(datname, $1)`, [db.rolePrefix])).map((r) => r.datname),
  );
  const owners = new Set(
    (await q<{ tenant_id: string }>(`select tenant_id from public.memberships where role = 'owner'`)).map((r) => r.tenant_id),
  );
  const registryBad = tenants.flatMap((t) => [
    ...(t.isolation === 'schema' && t.schema_name && !schemas.has(t.schema_name) ? [`${t.slug}: schema missing`] : []),
    ...(t.db_role && !roles.has(t.db_role) ? [`${t.slug}: role missing`] : []),
    ...(t.isolation === 'database' && t.database_name && !dbs.has(t.database_name) ? [`${t.slug}: database missing`] : []),
    ...(!owners.has(t.id) ? [`${t.slug}: no owner`] : []),
  ]);
  out.push(check('no orphan registry row (each has its schema, role, database, owner)', registryBad, tenants.length));
  const known = (set: Set<string>, key: 'schema_name' | 'db_role' | 'database_name') =>
    [...set].filter((x) => !tenants.some((t) => t[key] === x));
  const orphanSchemas = [...schemas].filter((s) => s.startsWith('tenant_') && !tenants.some((t) => t.schema_name === s));
  out.push(
    check(
      'no orphan schema, role or database',
      [...orphanSchemas, ...known(roles, 'db_role'), ...known(dbs, 'database_name')],
      schemas.size + roles.size + dbs.size,
    ),
  );
  const orphanIds = await q<{ email: string }>(
    `select email from public.identities i where not i.is_platform_admin and not exists (select 1 from public.memberships m where m.identity_id = i.id)`,
  );
  out.push(
    check(
      'no orphan identity',
      orphanIds.map((r) => r.email),
      tenants.length,
    ),
  );

  // Usage counters equal the rows; the channel limit held; per tier.
  const usageBad: string[] = [];
  const limitBad: string[] = [];
  for (const t of tiers) {
    const placement = tenantPlacementOf((await q<TenantRow>('select * from public.tenants where id = $1', [t.row.id]))[0]!);
    const counts = await withTenantData(pools, placement, undefined, async (c) => {
      const r = await c.query<{ members: string; channels: string; messages: string }>(
        `select (select count(*) from members) as members, (select count(*) from channels) as channels, (select count(*) from messages) as messages`,
      );
      return r.rows[0]!;
    });
    const counterSql = `select coalesce((select users_total from public.tenant_counters where tenant_id = $1), 0)::text as users,
                               coalesce((select channels_total from public.tenant_counters where tenant_id = $1), 0)::text as channels,
                               coalesce((select sum(messages_total) from public.tenant_usage_counters where tenant_id = $1), 0)::text as messages`;
    const counters =
      placement.isolation === 'database'
        ? await pools.databases.withPool(
            databaseRefOf(placement),
            async (p) => (await p.query<{ users: string; channels: string; messages: string }>(counterSql, [t.row.id])).rows[0]!,
          )
        : (await q<{ users: string; channels: string; messages: string }>(counterSql, [t.row.id]))[0]!;
    for (const [k, rows, counted] of [
      ['users', counts.members, counters.users],
      ['channels', counts.channels, counters.channels],
      ['messages', counts.messages, counters.messages],
    ] as const) {
      if (rows !== counted) usageBad.push(`${t.row.slug} ${k}: ${rows} rows, counter ${counted}`);
    }
    if (Number(counts.channels) > FREE_CHANNELS) limitBad.push(`${t.row.slug}: ${counts.channels} channels`);
  }
  out.push(check('usage counters equal the rows (each tier)', usageBad, tiers.length * 3));
  out.push(check(`channel limit (${FREE_CHANNELS} on free) never passed`, limitBad, tiers.length));

  const chains = await q<{ slug: string; ok: boolean; reason: string | null }>(
    `select t.slug, v.ok, v.reason from public.tenants t cross join lateral public.verify_audit_chain(t.id) v`,
  );
  out.push(
    check(
      'every audit chain verifies',
      chains.filter((c) => !c.ok).map((c) => `${c.slug}: ${c.reason}`),
      chains.length,
    ),
  );

  // Stripe: each event stored once and processed; the tenant ends in the last event's state;
  // no more subscription changes were applied than events were sent.
  const stripeBad: string[] = [];
  for (const b of billing) {
    const rows = await q<{ event_id: string; n: number; processed: boolean; attempts: number; error: string | null }>(
      `select event_id, count(*)::int as n, bool_and(processed) as processed, max(attempts) as attempts, max(error) as error
         from public.stripe_webhooks where event_id = any($1) group by event_id`,
      [b.events.map((e) => e.id)],
    );
    if (rows.length !== b.events.length) stripeBad.push(`${b.slug}: ${rows.length} of ${b.events.length} events stored`);
    for (const r of rows) {
      if (r.n !== 1 || !r.processed) {
        stripeBad.push(
          `${b.slug} ${r.event_id}: ${r.n} rows, processed ${r.processed}, ${r.attempts} attempts, error ${r.error ?? 'none'}`,
        );
      }
    }
    const state = (
      await q<{ subscription_status: string; stripe_subscription_id: string }>(
        'select subscription_status, stripe_subscription_id from public.tenants where id = $1',
        [b.id],
      )
    )[0];
    const last = b.events.at(-1)!;
    if (state?.subscription_status !== last.status || state.stripe_subscription_id !== b.subscription) {
      stripeBad.push(`${b.slug}: ends ${state?.subscription_status}/${state?.stripe_subscription_id}, expected ${last.status}`);
    }
    const changes = (
      await q<{ n: number }>(
        `select count(*)::int as n from public.tenant_audit_logs
          where tenant_id = $1 and actor_kind = 'stripe' and new_values ? 'subscription_status'
            and old_values->>'subscription_status' is distinct from new_values->>'subscription_status'`,
        [b.id],
      )
    )[0]!.n;
    if (changes > b.events.length) stripeBad.push(`${b.slug}: ${changes} status changes applied for ${b.events.length} events`);
  }
  out.push(
    check(
      'every Stripe event stored once and applied once, in order',
      stripeBad,
      billing.reduce((n, b) => n + b.events.length, 0),
    ),
  );
  return out;
}

export function renderReport(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(
    `chaos: ${r.options.seconds} s, ${r.options.workers} workers, SIGKILL + restart ${r.options.killEveryMs / 1000} s after each boot, half of busy backends terminated every ${r.options.terminateEveryMs / 1000} s`,
  );
  lines.push(`server SIGKILLed ${r.kills} times; ${r.terminated} backends terminated; final SIGTERM: ${r.finalExit}`);
  lines.push('');
  lines.push('operation        answers');
  for (const [op, outcomes] of Object.entries(r.operations).sort()) {
    const parts = Object.entries(outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k}: ${n}`);
    lines.push(`${op.padEnd(16)} ${parts.join(', ')}`);
  }
  lines.push('');
  for (const i of r.invariants) lines.push(`${i.ok ? 'ok  ' : 'FAIL'} ${i.name} (${i.detail})`);
  for (const c of r.selfCrashes) lines.push(`  crash: ${c}`);
  for (const u of r.uncaught.slice(0, 5)) lines.push(`  uncaught: ${u}`);
  lines.push('');
  lines.push(r.ok ? 'every invariant held' : 'INVARIANTS FAILED');
  return lines.join('\n');
}
