// The moveTenant Hasura action (registered in hasura/actions.ts): platform operators only.
import { z } from 'zod';
import { actorOf, defineAction, withoutNulls, type HasuraAction } from '../../hasura/action.ts';
import { requirePlatformOperator } from '../../hasura/session.ts';
import type { MutationMoveTenantArgs, TenantMoveInfo } from '../../hasura/generated/actions.ts';
import { moveTenantArgsSchema } from './schemas.ts';
import { moveDeps } from './deps.ts';
import { requestMove } from './request.ts';
import { startMove } from './run.ts';
import type { MoveView } from './records.ts';

const moveArgs = z.preprocess(withoutNulls, moveTenantArgsSchema) satisfies z.ZodType<MutationMoveTenantArgs, unknown>;

function moveInfo(view: MoveView): TenantMoveInfo {
  return {
    id: view.id,
    tenantId: view.tenantId,
    from: view.from,
    to: view.to,
    state: view.state,
    error: view.error,
    createdAt: view.createdAt,
    finishedAt: view.finishedAt,
  };
}

export const MOVE_ACTIONS: readonly HasuraAction[] = [
  defineAction('moveTenant', moveArgs, async (ctx, { tenantId, ...args }, session) => {
    await requirePlatformOperator(ctx.access, session);
    const deps = moveDeps(ctx);
    const move = await requestMove(deps, tenantId, args, actorOf(session));
    startMove(deps, move.id, actorOf(session));
    return moveInfo(move) satisfies TenantMoveInfo;
  }),
];
