// Running a move's steps to the end, resuming where a killed run stopped (deps.ts says how moves work).
import { AppError } from '../../core/errors.ts';
import { asSystem, type Client, type Pool } from '../../db/tx.ts';
import type { Actor } from '../../core/actor.ts';
import { loadTemplate, latestVersion, TEMPLATE_DIR, type TemplateStep } from '../template.ts';
import { type Isolation } from '../records.ts';
import { toMoveView, type MoveRow, type MoveState, type MoveStep, type MoveView, type Verification } from './records.ts';
import { checksums, copySnapshot, inMainDatabase, matchTables, sideOf, syncChanges, withSidePool, type Side } from './copy.ts';
import {
  buildDatabaseTarget,
  buildSchemaTarget,
  clearGuard,
  drainWriters,
  dropCopy,
  handOverUsage,
  setGuard,
  startCapture,
} from './placements.ts';
import { moveHasuraSource } from './hasura.ts';
import { TenantBusy } from '../lock.ts';
import { keepsRole, loadMove, MoveRunningElsewhere, restoreStatus, withRunnerLock, type MoveDeps } from './deps.ts';
import { abortLocked } from './abort.ts';

export interface RunOptions {
  /** Who runs it, for the audit trail (the requester, 'cli', 'system'). */
  actor?: Actor;
  /** Called before each step (progress lines; tests hold a step to act meanwhile). */
  onStep?: (step: MoveStep, move: MoveView) => Promise<void> | void;
}

/** The checksums of the two copies disagree: the move is aborted, the tenant stays where it is. */
export class VerificationFailed extends Error {
  constructor(readonly mismatches: string[]) {
    super(`the copies differ after the final sync (${mismatches.join('; ')}); the move was aborted`);
    this.name = 'VerificationFailed';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const SYNC_ROUNDS_BEFORE_FREEZE = 20;

/** Sets the next state, if the move is still where this run found it. */
async function advance(c: Client, move: MoveRow, next: MoveState, verification?: Verification): Promise<void> {
  const res = await c.query(
    `update public.tenant_moves
        set state = $3, error = null, verification = coalesce($4::jsonb, verification),
            finished_at = case when $3 in ('done', 'aborted') then now() end
      where tenant_id = $1 and id = $2 and state = $5`,
    [move.tenant_id, move.id, next, verification ? JSON.stringify(verification) : null, move.state],
  );
  if (res.rowCount !== 1) throw new Error(`move ${move.id} is no longer at step ${move.state}`);
}

/** One run's view of the move: its two copies and how to reach them. */
class MoveRun {
  readonly src: Side;
  readonly tgt: Side;
  constructor(
    private readonly deps: MoveDeps,
    private readonly move: MoveRow,
    private readonly steps: TemplateStep[],
    private readonly actor: Actor,
  ) {
    this.src = sideOf(move.tenant_id, move.source);
    this.tgt = sideOf(move.tenant_id, move.target);
  }

  private get writerTimeout(): number {
    return this.deps.writerTimeoutMs ?? 30_000;
  }

  private get batchSize(): number {
    return this.deps.batchSize ?? 5_000;
  }

  private withSrc<T>(fn: (pool: Pool) => Promise<T>): Promise<T> {
    return withSidePool(this.deps.pool, this.deps.databases, this.src, fn);
  }

  private withTgt<T>(fn: (pool: Pool) => Promise<T>): Promise<T> {
    return withSidePool(this.deps.pool, this.deps.databases, this.tgt, fn);
  }

  private withBoth<T>(fn: (src: { pool: Pool; side: Side }, tgt: { pool: Pool; side: Side }) => Promise<T>): Promise<T> {
    return this.withSrc((sp) => this.withTgt((tp) => fn({ pool: sp, side: this.src }, { pool: tp, side: this.tgt })));
  }

  private advance(next: MoveState, verification?: Verification): Promise<void> {
    return asSystem(this.deps.pool, (c) => advance(c, this.move, next, verification), this.actor);
  }

  async step(): Promise<void> {
    const state = this.move.state;
    switch (state) {
      case 'capturing':
        await this.withSrc((sp) => startCapture(sp, this.src, this.move.id, this.writerTimeout));
        return this.advance('building');
      case 'building':
        await this.build();
        return this.advance('copying');
      case 'copying':
        await this.withBoth(async (s, t) => copySnapshot(s, t, await matchTables(s, t), this.batchSize));
        return this.advance('syncing');
      case 'syncing':
        await this.withBoth(async (s, t) =>
          syncChanges(s, t, await matchTables(s, t), {
            batchSize: this.batchSize,
            untilEmpty: false,
            maxRounds: SYNC_ROUNDS_BEFORE_FREEZE,
          }),
        );
        return this.advance('freezing');
      case 'freezing':
        return this.freezeAndVerify();
      case 'switching':
        return this.switchRegistry();
      case 'exposing':
        await moveHasuraSource(this.deps.exposure, this.deps.pool, this.move.tenant_id);
        return this.advance('cleaning');
      case 'cleaning':
        await sleep(this.deps.drainMs ?? 2_000);
        await dropCopy(this.deps.pool, this.deps.databases, this.move.tenant_id, this.move.source, {
          keepRole: keepsRole(this.deps, this.move.source, this.move.target),
          actor: this.actor,
        });
        // The main database keeps a pooled or schema source's guard and recorded changes.
        if (inMainDatabase(this.src)) await clearGuard(this.deps.pool, this.src);
        return this.advance('done');
      case 'done':
      case 'aborted':
        return;
      default: {
        const never: never = state;
        throw new Error(`unknown move state ${String(never)}`);
      }
    }
  }

  private async build(): Promise<void> {
    const { target, tenant_id: tenantId } = this.move;
    const isolation: Isolation = target.isolation;
    switch (isolation) {
      case 'pooled':
        return; // the shared tables exist; the copy clears any rows of an earlier attempt
      case 'schema':
        return buildSchemaTarget(this.deps.pool, tenantId, target, this.steps, this.actor);
      case 'database':
        return buildDatabaseTarget(this.deps.pool, this.deps.databases, tenantId, target, this.steps, (fn) => this.withTgt(fn), this.actor);
      default: {
        const never: never = isolation;
        throw new Error(`unknown isolation ${String(never)}`);
      }
    }
  }

  /** Registry status 'migrating' (REST answers writes 503 before reaching the database), kept to restore. */
  private async markMigrating(c: Client): Promise<void> {
    const t = (await c.query<{ status: string }>('select status from public.tenants where id = $1 for update', [this.move.tenant_id]))
      .rows[0];
    if (t?.status !== 'active' && t?.status !== 'trial') return;
    await c.query(`update public.tenants set status = 'migrating' where id = $1`, [this.move.tenant_id]);
    await c.query('update public.tenant_moves set prior_status = $3 where tenant_id = $1 and id = $2', [
      this.move.tenant_id,
      this.move.id,
      t.status,
    ]);
  }

  /**
   * Writes refused from here (the guard, then the registry status), the
   * writers that did not see it waited for, the last changes copied, and the
   * two copies compared table by table. A failure other than a mismatch thaws
   * the tenant (capture again, status back) before it is reported: a rerun
   * freezes again. A mismatch aborts the move (runMove).
   */
  private async freezeAndVerify(): Promise<void> {
    await this.withBoth(async (s, t) => {
      try {
        if (inMainDatabase(this.src)) {
          await asSystem(
            this.deps.pool,
            async (c) => {
              await setGuard(c, this.src, this.move.id, 'frozen');
              await this.markMigrating(c);
            },
            this.actor,
          );
        } else {
          await setGuard(s.pool, this.src, this.move.id, 'frozen');
          await asSystem(this.deps.pool, (c) => this.markMigrating(c), this.actor);
        }
        await drainWriters(s.pool, this.move.tenant_id, this.writerTimeout);
        const tables = await matchTables(s, t);
        await syncChanges(s, t, tables, { batchSize: this.batchSize, untilEmpty: true, maxRounds: 0 });
        const [before, after] = await Promise.all([checksums(s.pool, this.src, tables), checksums(t.pool, this.tgt, tables)]);
        const verification: Verification = {};
        const mismatches: string[] = [];
        for (const { name } of tables) {
          const source = before[name]!;
          const target = after[name]!;
          verification[name] = { source, target };
          if (source.rows !== target.rows || source.checksum !== target.checksum) {
            mismatches.push(`${name}: ${source.rows} rows / ${source.checksum} vs ${target.rows} rows / ${target.checksum}`);
          }
        }
        if (mismatches.length) throw new VerificationFailed(mismatches);
        await handOverUsage(this.deps.pool, this.deps.databases, this.src, t.pool, this.tgt);
        await this.advance('switching', verification);
      } catch (err) {
        if (!(err instanceof VerificationFailed)) {
          await this.thaw(s.pool).catch((e: Error) =>
            this.deps.log.error(
              { tenantId: this.move.tenant_id, moveId: this.move.id, err: e.message },
              'could not thaw the tenant after a failed freeze',
            ),
          );
        }
        throw err;
      }
    });
  }

  /** After a failed freeze: writes flow (and are recorded) again, the status returns. */
  private async thaw(sourcePool: Pool): Promise<void> {
    await setGuard(sourcePool, this.src, this.move.id, 'capture');
    await restoreStatus(this.deps.pool, this.move.id, this.actor);
  }

  /** The one transaction that moves the tenant: its registry row names the target, its status returns. */
  private async switchRegistry(): Promise<void> {
    const { target, tenant_id: tenantId } = this.move;
    const version = target.isolation === 'pooled' ? null : latestVersion(this.steps);
    await asSystem(
      this.deps.pool,
      async (c) => {
        const { prior_status: prior } = await loadMove(c, this.move.id);
        await c.query(
          `update public.tenants
              set isolation = $2, schema_name = $3, db_role = $4, database_name = $5, database_url_env = $6,
                  template_version = $7,
                  status = case when status = 'migrating' and $8::text is not null then $8::text else status end
            where id = $1`,
          [tenantId, target.isolation, target.schema_name, target.db_role, target.database_name, target.database_url_env, version, prior],
        );
        await advance(c, this.move, 'exposing');
      },
      this.actor,
    );
  }
}

async function noteError(pool: Pool, moveId: string, err: unknown, actor: Actor): Promise<void> {
  const message = err instanceof Error ? err.message : String(err);
  await asSystem(
    pool,
    (c) => c.query('update public.tenant_moves set error = $2 where id = $1 and finished_at is null', [moveId, message.slice(0, 2000)]),
    actor,
  );
}

/**
 * Runs the move to its end (done, or aborted when the copies' checksums
 * disagree), from whatever step it is at. A failing step leaves the move
 * where it was, with its error recorded: run it again.
 */
export async function runMove(deps: MoveDeps, moveId: string, opts: RunOptions = {}): Promise<MoveView> {
  const actor = opts.actor ?? { kind: 'system' };
  const { tenant_id: tenantId } = await loadMove(deps.pool, moveId);
  return withRunnerLock(
    deps.pool,
    moveId,
    async () => {
      const steps = await loadTemplate(deps.templateDir ?? TEMPLATE_DIR);
      for (;;) {
        const move = await loadMove(deps.pool, moveId);
        if (move.state === 'done' || move.state === 'aborted') return toMoveView(move);
        await opts.onStep?.(move.state, toMoveView(move));
        deps.log.info({ tenantId: move.tenant_id, moveId, step: move.state }, 'tenant move step');
        try {
          await new MoveRun(deps, move, steps, actor).step();
        } catch (err) {
          deps.log.error({ tenantId: move.tenant_id, moveId, step: move.state, err: (err as Error).message }, 'tenant move step failed');
          await noteError(deps.pool, moveId, err, actor).catch(() => undefined);
          if (err instanceof VerificationFailed) {
            await abortLocked(deps, moveId, actor, err.message);
            throw new AppError('CONFLICT', err.message);
          }
          throw err;
        }
      }
    },
    tenantId,
  );
}

/** Starts a move in the background (REST and the Hasura action answer at once); its state is in tenant_moves. */
export function startMove(deps: MoveDeps, moveId: string, actor: Actor): void {
  runMove(deps, moveId, { actor }).catch((err: Error) =>
    deps.log.error({ moveId, err: err.message }, 'tenant move stopped; finish it with npm run cli -- tenants move <slug> --resume'),
  );
}

export interface ResumeReport {
  finished: MoveView[];
  /** Being run by another process. */
  skipped: string[];
  failed: { moveId: string; tenantId: string; error: string }[];
}

/** Finishes every unfinished move no other process is running (boot, `tenants rebalance`). */
export async function resumeMoves(deps: MoveDeps, actor: Actor = { kind: 'system' }): Promise<ResumeReport> {
  const { rows } = await deps.pool.query<{ id: string; tenant_id: string }>(
    'select id, tenant_id from public.tenant_moves where finished_at is null order by created_at',
  );
  const report: ResumeReport = { finished: [], skipped: [], failed: [] };
  for (const m of rows) {
    try {
      report.finished.push(await runMove(deps, m.id, { actor }));
    } catch (err) {
      if (err instanceof MoveRunningElsewhere || err instanceof TenantBusy) report.skipped.push(m.id);
      else report.failed.push({ moveId: m.id, tenantId: m.tenant_id, error: (err as Error).message });
    }
  }
  return report;
}
