// What an area contributes to the Hasura actions (hasura/metadata/actions.graphql):
// a handler per action name with its zod input. hasura/actions.ts registers them
// and dispatches; the areas own the handlers, next to their REST routes.
// Identity comes only from `session_variables` (hasura/session.ts).
import type { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError, validationError } from '../core/errors.ts';
import type { Actor, MemberActor } from '../core/actor.ts';
import { requireMember, type HasuraSession } from './session.ts';

export interface HasuraAction {
  name: string;
  /** The action's arguments, checked against the generated argument types where it is defined. */
  input: z.ZodType;
  handle(ctx: AppContext, input: unknown, session: HasuraSession): Promise<unknown>;
}

/** An action handler: its arguments are parsed with `input` before `run` sees them. */
export function defineAction<S extends z.ZodType>(
  name: string,
  input: S,
  run: (ctx: AppContext, args: z.infer<S>, session: HasuraSession) => Promise<unknown>,
): HasuraAction {
  return {
    name,
    input,
    async handle(ctx, raw, session) {
      const parsed = input.safeParse(raw);
      if (!parsed.success) throw validationError(parsed.error, `${name} arguments`);
      return run(ctx, parsed.data, session);
    },
  };
}

// GraphQL sends explicit nulls for omitted optional arguments in some clients;
// the services' schemas treat "absent" and "unchanged" alike, so drop them.
export const withoutNulls = (value: unknown): unknown =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null))
    : value;

/**
 * An action's output from a service's view: exactly the fields its GraphQL type
 * declares (`fields` names every one), since Hasura refuses a response with a
 * field the type does not have and a view may carry more.
 */
export function outputOf<Out extends object>(fields: { readonly [K in keyof Required<Out>]: true }): (view: Out) => Out {
  const keys = Object.keys(fields) as (keyof Out)[];
  return (view) => Object.fromEntries(keys.map((key) => [key, view[key]])) as Out;
}

/** The session's caller for the audit trail. */
export const actorOf = (session: HasuraSession): Actor => ({
  userId: session.userId,
  kind: session.apiKeyId ? 'api_key' : session.userId ? 'user' : 'system',
});

/** Acting as a person (member management, invitations): an API key's session is refused. */
export async function requirePersonMember(
  ctx: AppContext,
  session: HasuraSession,
  min: 'owner' | 'admin' | 'member',
): Promise<MemberActor> {
  const member = await requireSessionMember(ctx, session, min);
  if (session.apiKeyId) throw new AppError('FORBIDDEN', 'This needs a signed-in person, not an API key');
  return member;
}

/** A member or an API key of the tenant with at least `min`, audited as which of them it is. */
export async function requireSessionMember(
  ctx: AppContext,
  session: HasuraSession,
  min: 'owner' | 'admin' | 'member',
): Promise<MemberActor> {
  return { ...actorOf(session), ...(await requireMember(ctx.access, session, min)) };
}

/** Reading as a member or as an API key of the tenant. */
export const requireReader = (ctx: AppContext, session: HasuraSession): Promise<MemberActor> =>
  requireSessionMember(ctx, session, 'member');
