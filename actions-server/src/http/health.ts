import type { IncomingMessage, ServerResponse } from 'node:http';
import { Router, type RequestHandler as ExpressHandler } from 'express';
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError, databaseUnavailableReason, errorBody } from '../core/errors.ts';
import { listMigrations } from '../db/migrate.ts';
import type { Pool } from '../db/tx.ts';
import type { Lifecycle } from '../lifecycle/state.ts';
import type { ApiDocs } from './openapi.ts';

export const LIVE_PATH = '/api/health/live';
export const READY_PATH = '/api/health/ready';
/** A readiness probe never waits longer than this for the database. */
const READY_CHECK_TIMEOUT_MS = 2_000;

export function healthRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get('/api/health', async (req, res) => {
    if (req.tenant) {
      res.json({ status: 'ok', tenant: { slug: req.tenant.slug, status: req.tenant.status } });
      return;
    }
    try {
      await ctx.pool.query('select 1');
    } catch {
      throw new AppError('SERVICE_UNAVAILABLE', 'Database unreachable');
    }
    res.json({ status: 'ok', database: 'up' });
  });
  return router;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Answers only once the request body has been read: closing a connection with
 * unread bytes in it makes the kernel reset it, and the client would see
 * ECONNRESET instead of the answer.
 */
function afterBody(req: IncomingMessage, send: () => void): void {
  if (req.complete) return send();
  req.once('end', send);
  req.resume();
}

function live(lifecycle: Lifecycle, res: ServerResponse): void {
  sendJson(res, 200, { status: 'alive', phase: lifecycle.phase, uptimeSeconds: Math.round((Date.now() - lifecycle.startedAt) / 1000) });
}

function notReady(res: ServerResponse, message: string, details: Record<string, unknown>): void {
  sendJson(res, 503, errorBody(new AppError('SERVICE_UNAVAILABLE', message, details)), { 'retry-after': '1' });
}

let latestMigration: Promise<string | undefined> | undefined;

/** Ready: serving (not starting or draining), the database answers, and it holds the newest migration of this build. */
async function ready(lifecycle: Lifecycle, pool: Pool, res: ServerResponse, problems: readonly string[] = []): Promise<void> {
  if (lifecycle.phase !== 'serving') {
    notReady(res, `Not ready: the server is ${lifecycle.phase}`, { phase: lifecycle.phase });
    return;
  }
  latestMigration ??= listMigrations().then((m) => m.at(-1)?.version.toString());
  const expected = await latestMigration;
  let timer: NodeJS.Timeout | undefined;
  try {
    const check = pool.query<{ migrated: boolean }>(
      'select exists (select 1 from public.schema_migrations where version = $1::bigint) as migrated',
      [expected ?? '0'],
    );
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout exceeded when trying to connect')), READY_CHECK_TIMEOUT_MS);
    });
    const { rows } = await Promise.race([check, timeout]);
    check.catch(() => undefined);
    if (expected !== undefined && !rows[0]?.migrated) {
      notReady(res, 'Not ready: migrations have not run', { phase: lifecycle.phase, database: 'up', migrations: 'pending', expected });
      return;
    }
    // Ready for every tenant it can serve; what it cannot (a database server it has no URL for) is named here.
    sendJson(res, 200, {
      status: 'ready',
      phase: lifecycle.phase,
      database: 'up',
      migrations: 'applied',
      ...(problems.length ? { problems } : {}),
    });
  } catch (err) {
    notReady(res, 'Not ready: the database is unreachable', {
      phase: lifecycle.phase,
      database: databaseUnavailableReason(err) ?? 'error',
    });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Probes for orchestrators, mounted before everything else: they never resolve
 * a tenant, count an API call or wait behind a drain. Live answers 200 as long
 * as the process runs; ready answers 503 while starting, draining, or when the
 * database is unreachable or lacks this build's migrations.
 */
export function probeRoutes(ctx: AppContext, lifecycle: Lifecycle): Router {
  const router = Router();
  router.get(LIVE_PATH, (_req, res) => live(lifecycle, res));
  router.get(READY_PATH, (_req, res) => void ready(lifecycle, ctx.pool, res, ctx.deploymentProblems));
  return router;
}

const phaseSchema = z.enum(['starting', 'serving', 'draining', 'stopped']);

export function describeHealth(api: ApiDocs): void {
  api.area('Health', 'Probes for orchestrators and a reachability check.', (a) => {
    a.route({
      method: 'get',
      path: '/api/health',
      summary: "Platform host: the database answers; tenant host: the tenant's status",
      auth: 'anonymous',
      response: z.union([
        z.object({ status: z.literal('ok'), database: z.literal('up') }).strict(),
        z.object({ status: z.literal('ok'), tenant: z.object({ slug: z.string(), status: z.string() }).strict() }).strict(),
      ]),
    });
    a.route({
      method: 'get',
      path: LIVE_PATH,
      summary: 'Liveness: 200 while the process runs, from its first moment',
      auth: 'anonymous',
      response: z.object({ status: z.literal('alive'), phase: phaseSchema, uptimeSeconds: z.number().int() }).strict(),
    });
    a.route({
      method: 'get',
      path: READY_PATH,
      summary: "Readiness: serving, the database answers and holds this build's newest migration (else 503)",
      auth: 'anonymous',
      response: z
        .object({
          status: z.literal('ready'),
          phase: phaseSchema,
          database: z.literal('up'),
          migrations: z.literal('applied'),
          problems: z.array(z.string()).optional(),
        })
        .strict(),
    });
  });
}

/**
 * Answers while the process boots (before the application exists): live says
 * alive, ready and everything else say 503, so a load balancer sends nothing yet.
 */
export function bootHandler(lifecycle: Lifecycle): (req: IncomingMessage, res: ServerResponse) => void {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === LIVE_PATH) return live(lifecycle, res);
    if (path === READY_PATH) return notReady(res, `Not ready: the server is ${lifecycle.phase}`, { phase: lifecycle.phase });
    afterBody(req, () =>
      sendJson(
        res,
        503,
        errorBody(new AppError('SERVICE_UNAVAILABLE', 'The server is starting; retry shortly', { phase: lifecycle.phase })),
        {
          'retry-after': '1',
          connection: 'close',
        },
      ),
    );
  };
}

/**
 * Admission: while serving, counts the request as in flight until answered;
 * once a shutdown began, answers 503 with Connection: close (the request was
 * not started, so retrying it elsewhere is safe).
 */
export function admission(lifecycle: Lifecycle): ExpressHandler {
  return (req, res, next) => {
    if (lifecycle.accepting) {
      lifecycle.track(req, res);
      return next();
    }
    res.shouldKeepAlive = false;
    afterBody(req, () =>
      sendJson(res, 503, errorBody(new AppError('SERVICE_UNAVAILABLE', 'The server is shutting down; retry', { phase: lifecycle.phase })), {
        'retry-after': '1',
        connection: 'close',
      }),
    );
  };
}
