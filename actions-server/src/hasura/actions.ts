// Hasura actions (hasura/metadata/actions.graphql): one dispatcher, called by
// Hasura with a shared secret, over a registry each area contributes to
// (<area>/hasura-actions.ts, as jobs/registry.ts does for jobs). Identity comes
// only from `session_variables` (set by Hasura from the auth webhook or the
// JWT), never from client headers, which actions.yaml does not forward anyway.
// Handlers are thin: validate, authorise, call the same services as the REST
// routes. Errors answer 4xx `{message, extensions: {code}}` through the one
// error catalogue.
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError, toAppError, validationError } from '../core/errors.ts';
import type { HasuraAction } from './action.ts';
import { parseSession, sessionVariablesSchema } from './session.ts';
import { AUTH_ACTIONS } from '../auth/hasura-actions.ts';
import { TENANT_ACTIONS } from '../tenants/hasura-actions.ts';
import { MOVE_ACTIONS } from '../tenants/move/hasura-actions.ts';
import { BILLING_ACTIONS } from '../billing/hasura-actions.ts';
import { INVITATION_ACTIONS } from '../invitations/hasura-actions.ts';
import { ENTITLEMENT_ACTIONS } from '../entitlements/hasura-actions.ts';
import { MEMBER_ACTIONS } from '../members/hasura-actions.ts';

export const ACTIONS_PATH = '/hasura/actions';

/** Every action the server answers, by name. An area adds its own list here. */
const ACTIONS: ReadonlyMap<string, HasuraAction> = new Map(
  [
    ...AUTH_ACTIONS,
    ...TENANT_ACTIONS,
    ...MOVE_ACTIONS,
    ...BILLING_ACTIONS,
    ...INVITATION_ACTIONS,
    ...ENTITLEMENT_ACTIONS,
    ...MEMBER_ACTIONS,
  ].map((a) => [a.name, a]),
);

export const ACTION_NAMES: readonly string[] = [...ACTIONS.keys()];

/** The body Hasura POSTs to an action handler (hasura/README.md §1). */
export const actionPayloadSchema = z.object({
  action: z.object({ name: z.string() }),
  input: z.record(z.string(), z.unknown()).default({}),
  session_variables: sessionVariablesSchema,
  request_query: z.string().optional(),
});

/** Hasura's action error shape. Hasura needs a 4xx to show the message, so a 5xx travels as 400 with its code. */
export interface ActionErrorBody {
  message: string;
  extensions: { code: string; details?: Record<string, unknown> };
}

export function actionError(err: unknown): { status: number; body: ActionErrorBody } {
  const appErr = toAppError(err);
  return {
    status: appErr.status >= 500 ? 400 : appErr.status,
    body: { message: appErr.message, extensions: { code: appErr.code, ...(appErr.details ? { details: appErr.details } : {}) } },
  };
}

/** Validates the payload and runs the action; throws AppError for anything the caller got wrong. */
export async function dispatchAction(ctx: AppContext, body: unknown): Promise<unknown> {
  const payload = actionPayloadSchema.safeParse(body);
  if (!payload.success) throw validationError(payload.error, 'action payload');
  const action = ACTIONS.get(payload.data.action.name);
  if (!action) throw new AppError('NOT_FOUND', `Unknown action ${payload.data.action.name}`);
  return action.handle(ctx, payload.data.input, parseSession(payload.data.session_variables));
}
