// Glue between Express and the services: body validation and the error shape.
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import type { Logger } from '../core/log.ts';
import { AppError, errorBody, toAppError, validationError } from '../core/errors.ts';
import { isUuid } from '../db/tx.ts';

export function parseBody<T extends z.ZodType>(schema: T, body: unknown, what = 'request body'): z.infer<T> {
  if (body === undefined || body === null || typeof body !== 'object') {
    throw new AppError('VALIDATION_FAILED', `Invalid ${what}: expected a JSON object`);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error, what);
  return parsed.data;
}

/** The tenant id of a `/api/tenants/:id/...` route; anything but a uuid is an unknown tenant. */
export function tenantIdParam(req: Request): string {
  const id = req.params['id'];
  if (typeof id !== 'string' || !isUuid(id)) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  return id;
}

export function sendError(res: Response, err: AppError): void {
  for (const [k, v] of Object.entries(err.headers ?? {})) res.setHeader(k, v);
  res.status(err.status).json(errorBody(err));
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction): void {
  next(new AppError('NOT_FOUND', `No route for ${req.method} ${req.path}`));
}

interface BodyParserError {
  type?: unknown;
  status?: unknown;
}

export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const parserType = (err as BodyParserError | null)?.type;
    let appErr: AppError;
    if (parserType === 'entity.parse.failed') appErr = new AppError('MALFORMED_JSON', 'The request body is not valid JSON');
    else if (parserType === 'entity.too.large') appErr = new AppError('PAYLOAD_TOO_LARGE', 'The request body is too large');
    else appErr = toAppError(err);
    // Logged once, by the request log line (with the stack for a server fault).
    res.locals['errorCode'] = appErr.code;
    if (appErr.status >= 500) res.err = err instanceof Error ? err : new Error(String(err));
    if (res.headersSent) {
      log.error({ requestId: req.requestId, err }, 'request failed after its answer had started');
      return;
    }
    sendError(res, appErr);
  };
}

/**
 * Runs handlers one after the other, as a Router would for one route, without
 * its path matching per step: for the hot paths (http/app.ts), where that
 * matching cost more than the steps. An error (passed to next, thrown, or a
 * rejected promise) goes to `onError`, as Express sends it to an error handler.
 */
export function sequence(steps: readonly RequestHandler[], onError: ErrorRequestHandler): RequestHandler {
  return (req, res, next) => {
    let i = 0;
    const fail = (err: unknown): void => {
      try {
        void onError(err, req, res, next);
      } catch (thrown) {
        next(thrown);
      }
    };
    const step = (err?: unknown): void => {
      if (err) return fail(err);
      const handler = steps[i++];
      if (!handler) return next();
      try {
        const done: unknown = handler(req, res, step);
        if (done instanceof Promise) done.catch(fail);
      } catch (thrown) {
        fail(thrown);
      }
    };
    step();
  };
}
