// Requesting a move: validated and recorded in public.tenant_moves (deps.ts says how moves work).
import { AppError } from '../../core/errors.ts';
import { asSystem, isUuid, type Pool } from '../../db/tx.ts';
import type { Actor } from '../../core/actor.ts';
import { loadTemplate, latestVersion, TEMPLATE_DIR } from '../template.ts';
import { databaseNameFor, type Isolation, type TenantRow } from '../records.ts';
import { placementOf, tierPlacement, type Placement } from '../placement.ts';
import { sourceCapacity } from '../../hasura/exposure.ts';
import type { MoveTenantInput } from './schemas.ts';
import { toMoveView, type MoveRow, type MoveView } from './records.ts';
import { TenantBusy, tryTenantLockInTransaction } from '../lock.ts';
import { MOVE_COLUMNS, type MoveDeps } from './deps.ts';

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
