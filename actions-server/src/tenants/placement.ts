// Where a new tenant is placed (ARCHITECTURE.md §4, §11): the tier a platform admin
// chose, else its plan's placement (plans.placement), else DEFAULT_ISOLATION.
// With Hasura configured, schema and database tenants each cost Hasura a source
// of their own, capped by HASURA_MAX_TENANT_SOURCES; past the cap the policy
// decides: place the tenant pooled (its data then shares the platform
// metadata), refuse it, or create it without a source. A platform admin's
// explicit choice is never changed silently: past the cap under the pooled
// policy it is refused instead. Without Hasura there is no per-tenant source
// to pay for, so no cap applies.
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import type { Client } from '../db/tx.ts';
import type { Isolation, TenantRow } from './records.ts';

export type CapPolicy = 'pooled' | 'refuse' | 'skip';

/** The Hasura source cap, as provisioning sees it (implemented by hasura/exposure.ts). */
export interface SourceCapacity {
  readonly max: number;
  readonly policy: CapPolicy;
  /** Locks the registry of tenant sources until the transaction ends; true when one more source fits. */
  hasRoom(client: Client): Promise<boolean>;
  /** Takes the new tenant's place under the cap, in the provisioning transaction (Hasura registers the source after commit). */
  reserve(client: Client, tenant: TenantRow): Promise<void>;
}

export interface PlacementRequest {
  /** A platform admin's choice (never a self-serve caller's). */
  chosen?: Isolation | undefined;
  planPlacement: Isolation | null;
  defaultIsolation: Isolation;
  capacity?: SourceCapacity | undefined;
  log: Logger;
}

export interface PlacementDecision {
  isolation: Isolation;
  /** Reserve a Hasura source for the tenant in the same transaction. */
  reserveSource: boolean;
}

export async function decidePlacement(client: Client, req: PlacementRequest): Promise<PlacementDecision> {
  const wanted = req.chosen ?? req.planPlacement ?? req.defaultIsolation;
  const { capacity } = req;
  if (wanted === 'pooled' || !capacity) return { isolation: wanted, reserveSource: false };
  if (await capacity.hasRoom(client)) return { isolation: wanted, reserveSource: true };

  const line = { cap: capacity.max, policy: capacity.policy, wanted, chosen: req.chosen !== undefined };
  switch (capacity.policy) {
    case 'pooled':
      if (req.chosen === undefined) {
        req.log.warn(line, 'Hasura tenant source cap reached: placing the new tenant pooled (HASURA_SOURCE_CAP_POLICY=pooled)');
        return { isolation: 'pooled', reserveSource: false };
      }
      break;
    case 'skip':
      req.log.warn(line, 'Hasura tenant source cap reached: tenant created without a GraphQL source (HASURA_SOURCE_CAP_POLICY=skip)');
      return { isolation: wanted, reserveSource: false };
    case 'refuse':
      break;
    default: {
      const never: never = capacity.policy;
      throw new Error(`unknown cap policy ${String(never)}`);
    }
  }
  req.log.error(line, 'Hasura tenant source cap reached: refusing the tenant');
  throw new AppError(
    'TENANT_CAPACITY_REACHED',
    req.chosen === undefined
      ? 'No capacity for new tenants right now (the GraphQL tenant limit is reached); contact support'
      : `No Hasura source left for a ${wanted} tenant (HASURA_MAX_TENANT_SOURCES=${capacity.max}); choose pooled or raise the cap`,
    { limit: capacity.max },
  );
}
