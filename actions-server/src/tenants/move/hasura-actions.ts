// The moveTenant Hasura action (registered in hasura/actions.ts): platform operators only.
import { z } from 'zod';
import { actorOf, defineAction, outputOf, withoutNulls, type HasuraAction } from '../../hasura/action.ts';
import { requirePlatformOperator } from '../../hasura/session.ts';
import type { MutationMoveTenantArgs, TenantMoveInfo } from '../../hasura/generated/actions.ts';
import { moveTenantArgsSchema } from './schemas.ts';
import { moveDeps } from './deps.ts';
import { requestMove } from './request.ts';
import { startMove } from './run.ts';

const moveArgs = z.preprocess(withoutNulls, moveTenantArgsSchema) satisfies z.ZodType<MutationMoveTenantArgs, unknown>;

const moveInfo = outputOf<TenantMoveInfo>({
  id: true,
  tenantId: true,
  from: true,
  to: true,
  state: true,
  error: true,
  createdAt: true,
  finishedAt: true,
});

export const MOVE_ACTIONS: readonly HasuraAction[] = [
  defineAction('moveTenant', moveArgs, async (ctx, { tenantId, ...args }, session) => {
    await requirePlatformOperator(ctx.access, session);
    const deps = moveDeps(ctx);
    const move = await requestMove(deps, tenantId, args, actorOf(session));
    startMove(deps, move.id, actorOf(session));
    return moveInfo(move) satisfies TenantMoveInfo;
  }),
];
