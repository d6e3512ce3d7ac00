// Online moves of a tenant between placement tiers (ARCHITECTURE.md §4, §11).
// One service behind every transport (REST, the Hasura action, the CLI):
//   requestMove  validates and records the move (public.tenant_moves);
//   runMove      runs its steps (records.ts, MOVE_STEPS) to the end, resuming
//                wherever a killed run stopped: each step is idempotent and
//                persists the next state when it is done;
//   abortMove    before the switch: the tenant stays where it is, the target goes.
// At every moment the tenant is served from exactly one placement: the one its
// registry row names. The row changes in one transaction (switching), after
// the target was verified under the freeze; the old copy stays frozen until it
// is dropped. One runner per move at a time (a session advisory lock).
import type { Env } from '../../core/config.ts';
import type { Logger } from '../../core/log.ts';
import type { AppContext } from '../../core/context.ts';
import { AppError } from '../../core/errors.ts';
import { asSystem, isUuid, type Client, type Pool } from '../../db/tx.ts';
import type { Actor } from '../../core/actor.ts';
import { migrateUp } from '../../db/migrate.ts';
import type { TenantDatabases } from '../databases.ts';
import { loadTemplate, latestVersion, TEMPLATE_DIR, type TemplateStep } from '../template.ts';
import { databaseNameFor, type Isolation, type TenantRow } from '../records.ts';
import { placementOf, sharesRole, tierPlacement, type Placement } from '../placement.ts';
import { hasuraExposure } from '../../hasura/wiring.ts';
import { sourceCapacity, type ExposureDeps } from '../../hasura/exposure.ts';
import type { MoveTenantInput } from './schemas.ts';
import { ABORTABLE, toMoveView, type MoveRow, type MoveState, type MoveStep, type MoveView, type Verification } from './records.ts';
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
import { lockTenantOn, TenantBusy, tryTenantLockInTransaction, unlockTenantOn } from '../lock.ts';

export interface MoveDeps {
  env: Pick<Env, 'TENANT_ROLE_PREFIX'>;
  pool: Pool;
  log: Logger;
  databases: TenantDatabases;
  /** Present when Hasura is configured: sources follow the placement, and the source cap applies. */
  exposure?: ExposureDeps | undefined;
  templateDir?: string | undefined;
  /**
   * How long the old copy is kept, frozen, after the switch before it is
   * dropped: requests that resolved the tenant just before the switch (other
   * processes learn of it through NOTIFY) still find it. Default 2 s.
   */
  drainMs?: number | undefined;
  /** Rows per batch when copying between databases, changes per sync round. Default 5,000. */
  batchSize?: number | undefined;
  /** How long a step waits for in-flight writers of the tenant before it fails (and a rerun retries). Default 30 s. */
  writerTimeoutMs?: number | undefined;
}

export function moveDeps(ctx: Pick<AppContext, 'env' | 'pool' | 'log' | 'databases'>): MoveDeps {
  return {
    env: ctx.env,
    pool: ctx.pool,
    log: ctx.log,
    databases: ctx.databases,
    exposure: hasuraExposure(ctx.env, ctx.pool, ctx.log, ctx.databases),
  };
}

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

/** Another process holds the move's runner lock (it is running the move right now). */
export class MoveRunningElsewhere extends AppError {
  constructor() {
    super('CONFLICT', 'This move is being run by another process right now');
  }
}

// Runner lock, two-int advisory key space ('MVRN'); the guard's is 'MOVE' (1763900007000_moves).
const RUNNER_LOCK = 1297502798;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const SYNC_ROUNDS_BEFORE_FREEZE = 20;

const MOVE_COLUMNS = `tenant_id, id, from_isolation, to_isolation, source, target, state, prior_status, verification, error,
  reserved_source, requested_by, created_at, updated_at, finished_at`;

async function loadMove(db: Pool | Client, moveId: string): Promise<MoveRow> {
  const row = (await db.query<MoveRow>(`select ${MOVE_COLUMNS} from public.tenant_moves where id = $1`, [moveId])).rows[0];
  if (!row) throw new AppError('NOT_FOUND', 'No such move');
  return row;
}

/** The placement a tenant gets in a tier, named as provisioning names it. */
function targetFor(t: TenantRow, to: Isolation, databaseUrlEnv: string | null, prefix: string): Placement {
  // Database to database (another server): the two copies must not share a name in case both
  // settings reach one cluster, so the target alternates between the usual name and a second one.
  const base = databaseNameFor(prefix, t.slug);
  const name = t.isolation === 'database' && t.database_name === base ? `${base.slice(0, 61)}_2` : base;
  return tierPlacement(t.slug, to, prefix, { name, urlEnv: databaseUrlEnv });
}

/**
 * Records a move (it runs with runMove). Refused: unknown tenant (404), the
 * tier it is in already (a database tenant may change servers), a move of it
 * in progress, a hard delete or upgrade of it running, a tenant that is not
 * active or on trial, a schema behind the template (409); a database server
 * that is not configured (400); no Hasura source left for a pooled tenant
 * moving out (503 TENANT_CAPACITY_REACHED, unless HASURA_SOURCE_CAP_POLICY=skip).
 */
export async function requestMove(deps: MoveDeps, tenantId: string, input: MoveTenantInput, actor: Actor = {}): Promise<MoveView> {
  if (!isUuid(tenantId)) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  const databaseUrlEnv = input.to === 'database' ? (input.databaseUrlEnv ?? null) : null;
  if (input.to === 'database' && !deps.databases.hasServer(databaseUrlEnv)) {
    throw new AppError('VALIDATION_FAILED', `databaseUrlEnv: ${databaseUrlEnv} is not configured on this server`);
  }
  const steps = await loadTemplate(deps.templateDir ?? TEMPLATE_DIR);
  const capacity = deps.exposure ? sourceCapacity(deps.exposure.settings) : undefined;
  // Copies are written with the target's triggers off (session_replication_role): a superuser may, or an owner granted it.
  const { rows: privilege } = await deps.pool.query<{ ok: boolean }>(
    `select has_parameter_privilege('session_replication_role', 'SET') as ok`,
  );
  if (!privilege[0]?.ok) {
    throw new AppError(
      'SERVICE_UNAVAILABLE',
      'Tenant moves need the database owner to set session_replication_role: GRANT SET ON PARAMETER session_replication_role TO <owner>',
    );
  }
  const row = await asSystem(
    deps.pool,
    async (c) => {
      // Locked: concurrent requests for one tenant queue here, and the second finds the first's move.
      const t = (await c.query<TenantRow>('select * from public.tenants where id = $1 for update', [tenantId])).rows[0];
      if (!t) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
      // A move in progress holds the tenant's lock too: name it first, it is the more useful answer.
      const active = (
        await c.query<MoveRow>(`select ${MOVE_COLUMNS} from public.tenant_moves where tenant_id = $1 and finished_at is null`, [tenantId])
      ).rows[0];
      if (active) {
        throw new AppError('CONFLICT', `A move of this tenant to ${active.to_isolation} is in progress (step ${active.state})`, {
          moveId: active.id,
          to: active.to_isolation,
          state: active.state,
        });
      }
      if (!(await tryTenantLockInTransaction(c, tenantId))) throw new TenantBusy('move this tenant');
      // A database tenant may move to another server; otherwise the tier must change.
      const otherServer = input.to === 'database' && t.isolation === 'database' && t.database_url_env !== databaseUrlEnv;
      if (t.isolation === input.to && !otherServer) {
        throw new AppError(
          'CONFLICT',
          `The tenant is placed in the ${input.to} tier already${input.to === 'database' ? ' on that server' : ''}`,
          { isolation: t.isolation },
        );
      }
      if (t.status !== 'active' && t.status !== 'trial')
        throw new AppError('CONFLICT', `Only active or trial tenants are moved; this one is ${t.status}`);
      if (t.isolation !== 'pooled' && Number(t.template_version) !== latestVersion(steps)) {
        throw new AppError(
          'CONFLICT',
          `The tenant's schema is at template v${t.template_version}, not v${latestVersion(steps)}: upgrade it first (npm run tenants:migrate)`,
        );
      }
      const target = targetFor(t, input.to, databaseUrlEnv, deps.env.TENANT_ROLE_PREFIX);
      let reserved = false;
      // A pooled tenant moving out needs a Hasura source of its own: its slot is taken now, under the cap.
      if (capacity && t.isolation === 'pooled') {
        if (await capacity.hasRoom(c)) {
          await capacity.reserve(c, { ...t, ...target });
          reserved = true;
        } else if (capacity.policy === 'skip') {
          deps.log.warn(
            { tenantId, cap: capacity.max },
            'Hasura tenant source cap reached: the tenant will have no GraphQL source of its own (HASURA_SOURCE_CAP_POLICY=skip)',
          );
        } else {
          throw new AppError(
            'TENANT_CAPACITY_REACHED',
            `No Hasura source left for a ${input.to} tenant (HASURA_MAX_TENANT_SOURCES=${capacity.max}); the tenant stays pooled`,
            { limit: capacity.max },
          );
        }
      }
      return (
        await c.query<MoveRow>(
          `insert into public.tenant_moves (tenant_id, from_isolation, to_isolation, source, target, reserved_source, requested_by)
           values ($1, $2, $3, $4, $5, $6, $7) returning ${MOVE_COLUMNS}`,
          [tenantId, t.isolation, input.to, JSON.stringify(placementOf(t)), JSON.stringify(target), reserved, actor.userId ?? null],
        )
      ).rows[0]!;
    },
    actor,
  );
  deps.log.info({ tenantId, moveId: row.id, from: row.from_isolation, to: row.to_isolation }, 'tenant move requested');
  return toMoveView(row);
}

/** The tenant's latest move (in progress or finished). */
export async function latestMove(pool: Pool, tenantId: string): Promise<MoveView | undefined> {
  if (!isUuid(tenantId)) return undefined;
  const row = (
    await pool.query<MoveRow>(`select ${MOVE_COLUMNS} from public.tenant_moves where tenant_id = $1 order by created_at desc limit 1`, [
      tenantId,
    ])
  ).rows[0];
  return row ? toMoveView(row) : undefined;
}

/** The tenant's unfinished move, if any. */
export async function activeMove(pool: Pool, tenantId: string): Promise<MoveView | undefined> {
  const row = (
    await pool.query<MoveRow>(`select ${MOVE_COLUMNS} from public.tenant_moves where tenant_id = $1 and finished_at is null`, [tenantId])
  ).rows[0];
  return row ? toMoveView(row) : undefined;
}

/**
 * Holds the move's runner lock (on a connection of its own) while fn runs; 409
 * when another process runs it. With a tenant, the tenant's lock too, on the
 * same connection (a move, a hard delete and an upgrade exclude each other).
 */
async function withRunnerLock<T>(pool: Pool, moveId: string, fn: () => Promise<T>, tenantId?: string): Promise<T> {
  const client = await pool.connect();
  let locked = false;
  let tenantLocked = false;
  try {
    locked = (await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, hashtext($2)) as ok', [RUNNER_LOCK, moveId])).rows[0]!
      .ok;
    if (!locked) throw new MoveRunningElsewhere();
    if (tenantId !== undefined) {
      tenantLocked = await lockTenantOn(client, tenantId);
      if (!tenantLocked) throw new TenantBusy('move this tenant');
    }
    return await fn();
  } finally {
    if (tenantLocked) await unlockTenantOn(client, tenantId!);
    if (locked) await client.query('select pg_advisory_unlock($1, hashtext($2))', [RUNNER_LOCK, moveId]).catch(() => undefined);
    client.release();
  }
}

/** Host and port of the PostgreSQL server a placement is on. */
function serverKey(deps: MoveDeps, p: Placement): string {
  const url = new URL(deps.databases.serverUrl(p.isolation === 'database' ? p.database_url_env : null));
  return `${url.hostname}:${url.port || '5432'}`;
}

/** Whether dropping one copy must keep its role: the other copy uses it (same name on the same server, whatever setting names it). */
function keepsRole(deps: MoveDeps, p: Placement, other: Placement): boolean {
  if (sharesRole(p, other)) return true;
  if (p.db_role === null || p.db_role !== other.db_role) return false;
  try {
    return serverKey(deps, p) === serverKey(deps, other);
  } catch {
    return false;
  }
}

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

/** The tenant leaves 'migrating' for the status it had (unless something else changed it meanwhile). */
async function restoreStatus(pool: Pool, moveId: string, actor: Actor): Promise<void> {
  await asSystem(
    pool,
    async (c) => {
      const move = await loadMove(c, moveId);
      if (move.prior_status) {
        await c.query(`update public.tenants set status = $2 where id = $1 and status = 'migrating'`, [move.tenant_id, move.prior_status]);
      }
    },
    actor,
  );
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

async function abortLocked(deps: MoveDeps, moveId: string, actor: Actor, reason?: string): Promise<MoveView> {
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

export interface RebalanceCandidate {
  tenantId: string;
  slug: string;
  from: Isolation;
  to: Isolation;
}

/**
 * Placement follows the plan (when plans.placement is set): every active or
 * trial tenant whose plan places it elsewhere than where it is, with no move
 * in progress. `npm run cli -- tenants rebalance` moves them, one at a time.
 */
export async function rebalanceCandidates(pool: Pool): Promise<RebalanceCandidate[]> {
  const { rows } = await pool.query<{ id: string; slug: string; isolation: Isolation; placement: Isolation }>(
    `select t.id, t.slug, t.isolation, p.placement
       from public.tenants t
       join public.plans p on p.id = t.plan
      where p.placement is not null and p.placement <> t.isolation and t.status in ('active', 'trial')
        and not exists (select 1 from public.tenant_moves m where m.tenant_id = t.id and m.finished_at is null)
      order by t.slug`,
  );
  return rows.map((r) => ({ tenantId: r.id, slug: r.slug, from: r.isolation, to: r.placement }));
}
