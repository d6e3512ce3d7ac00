// REST for the job queue (platform administrators, on the platform host): what
// `npm run cli -- jobs list|retry|discard` shows and does, for the admin portal.
//   GET    /api/jobs?failed=&limit=   {jobs}: oldest first
//   POST   /api/jobs/:jobId/retry     {job}: runs again now with fresh attempts
//   DELETE /api/jobs/:jobId           204: dropped without running
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import { parseBody } from '../http/handlers.ts';
import { authenticate, requirePlatformAdmin } from '../http/middleware.ts';
import type { ApiDocs } from '../http/openapi.ts';
import { discardJob, JOB_ID_RE, listJobs, retryJob } from './admin.ts';

const jobListQuerySchema = z
  .object({
    // Only jobs whose last attempt failed (retrying or out of attempts).
    failed: z
      .enum(['true', 'false'])
      .default('false')
      .transform((v) => v === 'true'),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

function jobIdParam(req: Request): string {
  const id = req.params['jobId'];
  if (typeof id !== 'string' || !JOB_ID_RE.test(id)) throw new AppError('NOT_FOUND', 'No such job');
  return id;
}

/** After a retry or a discard that changed nothing: the job is unknown, finished, or running right now. */
const notActionable = (id: string, what: string) =>
  new AppError('NOT_FOUND', `No job ${id} to ${what}: unknown, finished or running`, { jobId: id });

export function jobRoutes(ctx: AppContext): Router {
  const router = Router();
  const guard = [authenticate(ctx), requirePlatformAdmin(ctx)];

  router.get('/api/jobs', ...guard, async (req, res) => {
    const query = parseBody(jobListQuerySchema, req.query, 'query');
    res.json({ jobs: await listJobs(ctx.pool, query) });
  });

  router.post('/api/jobs/:jobId/retry', ...guard, async (req, res) => {
    const id = jobIdParam(req);
    if (!(await retryJob(ctx.pool, id))) throw notActionable(id, 'retry');
    ctx.log.info({ jobId: id, userId: req.auth!.userId }, 'job retried');
    res.json({ job: (await listJobs(ctx.pool, { id })).at(0) ?? null });
  });

  router.delete('/api/jobs/:jobId', ...guard, async (req, res) => {
    const id = jobIdParam(req);
    if (!(await discardJob(ctx.pool, id))) throw notActionable(id, 'discard');
    ctx.log.info({ jobId: id, userId: req.auth!.userId }, 'job discarded');
    res.status(204).end();
  });

  return router;
}

const jobSchema = z
  .object({
    id: z.string(),
    task: z.string(),
    state: z.enum(['waiting', 'running', 'retrying', 'failed']),
    attempts: z.number().int(),
    maxAttempts: z.number().int(),
    runAt: z.string(),
    key: z.string().nullable(),
    lastError: z.string().nullable(),
  })
  .strict();
const jobParams = z.object({ jobId: z.string().regex(JOB_ID_RE) });

export function describeJobs(api: ApiDocs): void {
  api.area('Jobs', 'The job queue, for platform administrators.', (a) => {
    a.route({
      method: 'get',
      path: '/api/jobs',
      summary: 'Jobs in the queue, oldest first; failed=true: only those whose last attempt failed',
      auth: 'platformAdmin',
      query: jobListQuerySchema,
      response: z.object({ jobs: z.array(jobSchema) }).strict(),
      errors: [400],
    });
    a.route({
      method: 'post',
      path: '/api/jobs/:jobId/retry',
      summary: 'Run a job again now, with fresh attempts',
      auth: 'platformAdmin',
      params: jobParams,
      response: z.object({ job: jobSchema.nullable() }).strict(),
    });
    a.route({
      method: 'delete',
      path: '/api/jobs/:jobId',
      summary: 'Drop a job without running it',
      auth: 'platformAdmin',
      params: jobParams,
      status: 204,
      response: null,
    });
  });
}
