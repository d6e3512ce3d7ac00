// Plugs the Hasura layer into the server context: with an endpoint configured,
// every schema- and database-tier tenant gets its source when provisioned (the
// source cap is taken in the provisioning transaction) and loses it before a
// hard delete; without one, the sync is skipped (one log line) and no cap applies.
import type { Env } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import type { Pool } from '../db/tx.ts';
import type { AppContext } from '../core/context.ts';
import { createMetadataClient } from './client.ts';
import type { TenantDatabases } from '../tenants/databases.ts';
import { hasuraSourceStep, sourceCapacity, unexposeTenant, type ExposureDeps } from './exposure.ts';
import { hasuraSettings } from './settings.ts';

/** What per-tenant exposure needs; undefined when no Hasura endpoint is configured. Also for operator commands (hard delete). */
export function hasuraExposure(env: Env, pool: Pool, log: Logger, databases?: TenantDatabases): ExposureDeps | undefined {
  const settings = hasuraSettings(env);
  if (!settings) return undefined;
  return {
    settings,
    pool,
    log,
    databases,
    metadata: createMetadataClient({ endpoint: settings.baseUrl, adminSecret: settings.adminSecret, timeoutMs: settings.timeoutMs }),
  };
}

export function wireHasura(ctx: AppContext): void {
  const deps = hasuraExposure(ctx.env, ctx.pool, ctx.log, ctx.databases);
  if (!deps) {
    ctx.log.info('HASURA_GRAPHQL_ENDPOINT is not set: per-tenant Hasura metadata sync is skipped');
    return;
  }
  ctx.sourceCapacity = sourceCapacity(deps.settings);
  ctx.provisioningSteps.push(hasuraSourceStep(deps));
  ctx.deprovisioningSteps.push((tenantId) => unexposeTenant(deps, tenantId));
}
