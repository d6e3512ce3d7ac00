// Online moves of a tenant between placement tiers (ARCHITECTURE.md §4, §11).
// One service behind every transport (REST, the Hasura action, the CLI), in
// three modules over what they share (this file: dependencies, the record, the
// runner lock):
//   requestMove  (request.ts) validates and records the move (public.tenant_moves);
//   runMove      (run.ts) runs its steps (records.ts, MOVE_STEPS) to the end, resuming
//                wherever a killed run stopped: each step is idempotent and
//                persists the next state when it is done;
//   abortMove    (abort.ts) before the switch: the tenant stays where it is, the target goes.
// At every moment the tenant is served from exactly one placement: the one its
// registry row names. The row changes in one transaction (switching), after
// the target was verified under the freeze; the old copy stays frozen until it
// is dropped. One runner per move at a time (a session advisory lock).
import type { Env } from '../../core/config.ts';
import type { Logger } from '../../core/log.ts';
import type { AppContext } from '../../core/context.ts';
import { AppError } from '../../core/errors.ts';
import { asSystem, type Client, type Pool } from '../../db/tx.ts';
import type { Actor } from '../../core/actor.ts';
import type { TenantDatabases } from '../databases.ts';
import { sharesRole, type Placement } from '../placement.ts';
import { hasuraExposure } from '../../hasura/wiring.ts';
import { type ExposureDeps } from '../../hasura/exposure.ts';
import { type MoveRow } from './records.ts';
import { lockTenantOn, TenantBusy, unlockTenantOn } from '../lock.ts';

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

/** Another process holds the move's runner lock (it is running the move right now). */
export class MoveRunningElsewhere extends AppError {
  constructor() {
    super('CONFLICT', 'This move is being run by another process right now');
  }
}

// Runner lock, two-int advisory key space ('MVRN'); the guard's is 'MOVE' (1763900007000_moves).
const RUNNER_LOCK = 1297502798;

export const MOVE_COLUMNS = `tenant_id, id, from_isolation, to_isolation, source, target, state, prior_status, verification, error,
  reserved_source, requested_by, created_at, updated_at, finished_at`;

export async function loadMove(db: Pool | Client, moveId: string): Promise<MoveRow> {
  const row = (await db.query<MoveRow>(`select ${MOVE_COLUMNS} from public.tenant_moves where id = $1`, [moveId])).rows[0];
  if (!row) throw new AppError('NOT_FOUND', 'No such move');
  return row;
}

/**
 * Holds the move's runner lock (on a connection of its own) while fn runs; 409
 * when another process runs it. With a tenant, the tenant's lock too, on the
 * same connection (a move, a hard delete and an upgrade exclude each other).
 */
export async function withRunnerLock<T>(pool: Pool, moveId: string, fn: () => Promise<T>, tenantId?: string): Promise<T> {
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
export function keepsRole(deps: MoveDeps, p: Placement, other: Placement): boolean {
  if (sharesRole(p, other)) return true;
  if (p.db_role === null || p.db_role !== other.db_role) return false;
  try {
    return serverKey(deps, p) === serverKey(deps, other);
  } catch {
    return false;
  }
}

/** The tenant leaves 'migrating' for the status it had (unless something else changed it meanwhile). */
export async function restoreStatus(pool: Pool, moveId: string, actor: Actor): Promise<void> {
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
