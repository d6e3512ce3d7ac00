// One log line per request (pino-http): request id, tenant slug, route, status
// and duration. Headers, bodies and query strings are never logged: they carry
// tokens, passwords, invitation and download secrets.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from '../core/log.ts';

const pathOnly = (url: string | undefined): string => (url ?? '').split('?', 1)[0] ?? '';

export function requestLog(log: Logger): RequestHandler {
  // A logger that writes nothing (LOG_LEVEL=silent) gets no per-request child logger and listeners either.
  if (!log.isLevelEnabled('fatal')) {
    return (req, _res, next) => {
      req.log = log;
      next();
    };
  }
  return pinoHttp({
    logger: log,
    genReqId: (req) => (req as Request).requestId ?? '',
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId', responseTime: 'ms' },
    serializers: {
      req: (req: IncomingMessage & { id?: unknown }) => ({ method: req.method, path: pathOnly(req.url) }),
      res: (res: ServerResponse) => ({ status: res.statusCode }),
    },
    customProps: (req, res) => {
      const r = req as Request;
      return {
        tenant: r.tenant?.slug,
        // A hot path (http/app.ts) is answered without a router and names its route itself.
        route: (r.route as { path?: string } | undefined)?.path ?? ((res as Response).locals?.['route'] as string | undefined),
        code: (res as Response).locals?.['errorCode'] as string | undefined,
      };
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    customSuccessMessage: (req, res) => `${req.method} ${pathOnly(req.url)} ${res.statusCode}`,
    customErrorMessage: (req, res) => `${req.method} ${pathOnly(req.url)} ${res.statusCode}`,
  });
}
