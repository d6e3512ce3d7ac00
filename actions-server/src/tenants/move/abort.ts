// Aborting a move before its switch: the tenant stays where it is, the target goes (deps.ts says how moves work).
import { AppError } from '../../core/errors.ts';
import { asSystem } from '../../db/tx.ts';
import type { Actor } from '../../core/actor.ts';
import { migrateUp } from '../../db/migrate.ts';
import { ABORTABLE, toMoveView, type MoveView } from './records.ts';
import { sideOf, withSidePool } from './copy.ts';
import { clearGuard, dropCopy } from './placements.ts';
import { keepsRole, loadMove, restoreStatus, withRunnerLock, type MoveDeps } from './deps.ts';

/** Aborts the move; the caller holds its runner lock (abortMove, or runMove when verification fails). */
export async function abortLocked(deps: MoveDeps, moveId: string, actor: Actor, reason?: string): Promise<MoveView> {
  const move = await loadMove(deps.pool, moveId);
  if (move.state === 'done' || move.state === 'aborted') return toMoveView(move);
  if (!ABORTABLE.includes(move.state)) {
    throw new AppError(
      'CONFLICT',
      `The move switched the tenant already (step ${move.state}); finish it instead (npm run cli -- tenants move <slug> --resume)`,
    );
  }
  const src = sideOf(move.tenant_id, move.source);
  // The source serves normally again: no guard, no recorded changes, the status it had.
  await withSidePool(deps.pool, deps.databases, src, async (sp) => {
    if (move.source.isolation === 'database') await migrateUp(sp);
    await clearGuard(sp, src);
  });
  await restoreStatus(deps.pool, moveId, actor);
  // The target was never served.
  await dropCopy(deps.pool, deps.databases, move.tenant_id, move.target, { keepRole: keepsRole(deps, move.target, move.source), actor });
  await asSystem(
    deps.pool,
    async (c) => {
      if (move.reserved_source) {
        await c.query(
          `delete from public.hasura_tenant_sources s where s.tenant_id = $1
              and exists (select 1 from public.tenants t where t.id = s.tenant_id and t.isolation = 'pooled')`,
          [move.tenant_id],
        );
      }
      await c.query(
        `update public.tenant_moves set state = 'aborted', finished_at = now(), error = coalesce($3, error)
          where tenant_id = $1 and id = $2`,
        [move.tenant_id, move.id, reason ?? null],
      );
    },
    actor,
  );
  deps.log.warn({ tenantId: move.tenant_id, moveId, reason }, 'tenant move aborted');
  return toMoveView(await loadMove(deps.pool, moveId));
}

/** Aborts a move before its switch: the tenant stays where it is, the target copy is dropped. */
export function abortMove(
  deps: MoveDeps,
  moveId: string,
  actor: Actor = { kind: 'system' },
  reason = 'aborted by an operator',
): Promise<MoveView> {
  return withRunnerLock(deps.pool, moveId, () => abortLocked(deps, moveId, actor, reason));
}
