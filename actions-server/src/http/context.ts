// What every transport gets: configuration, logger, database, resolver, tokens.
import type { Env } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Pool } from '../db/tx.ts';
import type { TenantResolver, ResolvedTenant } from '../domains/resolver.ts';
import type { TokenService, VerifiedToken, TenantRole } from '../auth/tokens.ts';
import type { ProvisioningStep } from '../tenants/provision.ts';

export interface AppContext {
  env: Env;
  log: Logger;
  pool: Pool;
  resolver: TenantResolver;
  tokens: TokenService;
  /** Steps run after a tenant's database transaction commits (Hasura exposure, ...). */
  provisioningSteps: ProvisioningStep[];
  /** Steps run before a tenant is hard-deleted. */
  deprovisioningSteps: ((tenantId: string) => Promise<void>)[];
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Tenant named by the Host (or trusted header), null on the platform host. */
    tenant?: ResolvedTenant | null;
    auth?: VerifiedToken;
    /** The caller's current role in req.tenant, checked against the database. */
    memberRole?: TenantRole;
    requestId?: string;
  }
}
