// A move of a tenant between placements as public.tenant_moves stores it, and
// the view callers get.
import type { Isolation } from '../records.ts';
import type { Placement } from '../placement.ts';

/**
 * The steps of a move, in order; `state` names the next one to run, and a
 * rerun resumes there (each step is idempotent):
 *   capturing  guard the source: changed keys are recorded from here on
 *   building   the target's empty tables (schema, database) or nothing (pooled)
 *   copying    one consistent snapshot of the source into the target
 *   syncing    the recorded changes, while the tenant keeps serving
 *   freezing   writes refused (status migrating), the last changes, checksums
 *   switching  the registry row names the target (one transaction)
 *   exposing   Hasura: the old source dropped, the new one added
 *   cleaning   the old copy dropped
 */
export const MOVE_STEPS = ['capturing', 'building', 'copying', 'syncing', 'freezing', 'switching', 'exposing', 'cleaning'] as const;
export type MoveStep = (typeof MOVE_STEPS)[number];
export type MoveState = MoveStep | 'done' | 'aborted';

/** Steps before the switch: the tenant is still served from the source, so the move may be aborted. */
export const ABORTABLE: readonly MoveState[] = ['capturing', 'building', 'copying', 'syncing', 'freezing', 'switching'];

/** Row count and order-independent checksum of one table of one copy. */
export interface TableSum {
  rows: string;
  checksum: string;
}

export type Verification = Record<string, { source: TableSum; target: TableSum }>;

export interface MoveRow {
  tenant_id: string;
  id: string;
  from_isolation: Isolation;
  to_isolation: Isolation;
  source: Placement;
  target: Placement;
  state: MoveState;
  prior_status: 'trial' | 'active' | null;
  verification: Verification | null;
  error: string | null;
  reserved_source: boolean;
  requested_by: string | null;
  created_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

export interface MoveView {
  id: string;
  tenantId: string;
  from: Isolation;
  to: Isolation;
  state: MoveState;
  error: string | null;
  verification: Verification | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export function toMoveView(row: MoveRow): MoveView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    from: row.from_isolation,
    to: row.to_isolation,
    state: row.state,
    error: row.error,
    verification: row.verification,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    finishedAt: row.finished_at ? row.finished_at.toISOString() : null,
  };
}
