// The endpoints Hasura calls: the auth webhook, the action dispatcher, and
// event deliveries. Actions and events carry a shared secret
// header (configured in the metadata with value_from_env); the auth webhook
// cannot (Hasura CE sends no custom headers to it) and needs none: it only
// turns a token the caller already holds into a session.
import { timingSafeEqual } from 'node:crypto';
import { Router, type Request, type RequestHandler } from 'express';
import type { AppContext } from '../core/context.ts';
import { AppError, errorBody, toAppError } from '../core/errors.ts';
import { ACTIONS_PATH, actionError, actionPayloadSchema, dispatchAction } from './actions.ts';
import { AUTH_WEBHOOK_PATH, authenticateHasuraRequest, webhookBodySchema } from './auth-webhook.ts';
import { EVENTS_PATH, EVENT_TRIGGERS, eventDeliverySchema, handleEventDelivery } from './events.ts';
import { z } from 'zod';
import { errorSchema, type ApiDocs } from '../http/openapi.ts';

export const ACTIONS_SECRET_HEADER = 'x-actions-secret';
export const EVENT_SECRET_HEADER = 'x-hasura-event-secret';

function secretMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 503 when the secret is not configured (the endpoint is then off), 401 when it does not match. */
function checkSecret(req: Request, header: string, expected: string | undefined, envName: string): void {
  if (expected === undefined) throw new AppError('SERVICE_UNAVAILABLE', `${envName} is not configured on the actions server`);
  if (!secretMatches(req.get(header), expected)) throw new AppError('UNAUTHENTICATED', `Missing or wrong ${header} header`);
}

const nameParam = (req: Request): string => {
  const name = req.params['name'];
  return typeof name === 'string' ? name : '';
};

/** POST AUTH_WEBHOOK_PATH; http/app.ts also mounts it ahead of the generic chain. */
export function authWebhookHandler(ctx: AppContext): RequestHandler {
  return async (req, res) => {
    try {
      res.json(await authenticateHasuraRequest(ctx, req.body));
    } catch (err) {
      const appErr = toAppError(err);
      if (appErr.status >= 500) {
        ctx.log.error({ requestId: req.requestId, err: err instanceof Error ? err.message : String(err) }, 'auth webhook failed');
        res.status(500).json(errorBody(appErr));
        return;
      }
      ctx.log.info({ requestId: req.requestId, code: appErr.code }, `auth webhook refused: ${appErr.message}`);
      for (const [k, v] of Object.entries(appErr.headers ?? {})) res.setHeader(k, v);
      // Only 200 and 401 mean something to Hasura (anything else becomes a 500 for the client).
      res.status(401).json(errorBody(appErr));
    }
  };
}

export function hasuraRoutes(ctx: AppContext): Router {
  const router = Router();

  router.post(AUTH_WEBHOOK_PATH, authWebhookHandler(ctx));

  router.post(ACTIONS_PATH, async (req, res) => {
    // Not configured is the server's state, not an action's answer: 503 in the one error shape.
    if (ctx.env.ACTIONS_SECRET === undefined) {
      const off = new AppError('SERVICE_UNAVAILABLE', 'ACTIONS_SECRET is not configured on the actions server');
      res.status(off.status).json(errorBody(off));
      return;
    }
    try {
      checkSecret(req, ACTIONS_SECRET_HEADER, ctx.env.ACTIONS_SECRET, 'ACTIONS_SECRET');
      res.json(await dispatchAction(ctx, req.body));
    } catch (err) {
      const { status, body } = actionError(err);
      const line = {
        requestId: req.requestId,
        action: (req.body as { action?: { name?: unknown } } | undefined)?.action?.name,
        code: body.extensions.code,
      };
      if (toAppError(err).status >= 500)
        ctx.log.error({ ...line, err: err instanceof Error ? { message: err.message, stack: err.stack } : err }, 'action failed');
      else ctx.log.info(line, body.message);
      res.status(status).json(body);
    }
  });

  const eventSecret: RequestHandler = (req, _res, next) => {
    checkSecret(req, EVENT_SECRET_HEADER, ctx.env.EVENTS_SECRET, 'EVENTS_SECRET');
    next();
  };
  router.post(`${EVENTS_PATH}/:name`, eventSecret, async (req, res) => {
    res.json(await handleEventDelivery(ctx, nameParam(req), req.body));
  });

  return router;
}

/** Hasura's own error format for an action (hasura/actions.ts actionError). */
const actionErrorSchema = z
  .object({
    message: z.string(),
    extensions: z.object({ code: z.string(), details: z.record(z.string(), z.unknown()).optional() }).strict(),
  })
  .strict()
  .meta({ id: 'HasuraActionError' });

export function describeHasura(api: ApiDocs): void {
  api.area('Hasura', 'The endpoints Hasura calls: the auth webhook, the action dispatcher, event deliveries.', (a) => {
    a.route({
      method: 'post',
      path: AUTH_WEBHOOK_PATH,
      summary: "Auth webhook (POST mode): the caller's token or API key as Hasura session variables",
      description: 'Only 200 and 401 mean something to Hasura: every refusal is 401.',
      auth: 'anonymous',
      body: webhookBodySchema,
      response: z.record(z.string(), z.string()),
      errors: [401],
    });
    a.route({
      method: 'post',
      path: ACTIONS_PATH,
      summary: 'Action dispatcher: runs the named action with the session variables Hasura passes',
      description: "Refusals are in Hasura's action error format; 503 (one error shape) when ACTIONS_SECRET is not configured.",
      auth: 'actionsSecret',
      body: actionPayloadSchema,
      response: z.unknown(),
      errors: [400, 401, 403, 404, 409, 410, 429],
      errorBodies: {
        // A body that is not JSON at all is refused before the dispatcher, in the one error shape.
        400: z.union([actionErrorSchema, errorSchema]),
        401: actionErrorSchema,
        403: actionErrorSchema,
        404: actionErrorSchema,
        409: actionErrorSchema,
        410: actionErrorSchema,
        429: actionErrorSchema,
      },
    });
    a.route({
      method: 'post',
      path: `${EVENTS_PATH}/:name`,
      summary: 'An event trigger delivery, applied once per event id',
      auth: 'eventSecret',
      params: z.object({ name: z.enum(EVENT_TRIGGERS) }),
      body: eventDeliverySchema,
      response: z.union([
        z.object({ status: z.literal('processed'), result: z.unknown() }).strict(),
        z.object({ status: z.literal('duplicate') }).strict(),
      ]),
      errors: [404],
    });
  });
}
