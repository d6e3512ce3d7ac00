// Plugs the Hasura layer into the server context: with an endpoint configured,
// every schema-tier tenant gets its source when provisioned and loses it
// before a hard delete; without one, the sync is skipped (one log line).
import type { Env } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Pool } from '../db/tx.ts';
import type { AppContext } from '../http/context.ts';
import { createMetadataClient } from './client.ts';
import { hasuraSourceStep, unexposeTenant, type ExposureDeps } from './exposure.ts';
import { hasuraSettings } from './settings.ts';

/** What per-tenant exposure needs; undefined when no Hasura endpoint is configured. Also for operator commands (hard delete). */
export function hasuraExposure(env: Env, pool: Pool, log: Logger): ExposureDeps | undefined {
  const settings = hasuraSettings(env);
  if (!settings) return undefined;
  return {
    settings,
    pool,
    log,
    metadata: createMetadataClient({ endpoint: settings.baseUrl, adminSecret: settings.adminSecret, timeoutMs: settings.timeoutMs }),
  };
}

export function wireHasura(ctx: AppContext): void {
  const deps = hasuraExposure(ctx.env, ctx.pool, ctx.log);
  if (!deps) {
    ctx.log.info('HASURA_GRAPHQL_ENDPOINT is not set: per-tenant Hasura metadata sync is skipped');
    return;
  }
  ctx.provisioningSteps.push(hasuraSourceStep(deps));
  ctx.deprovisioningSteps.push((tenantId) => unexposeTenant(deps, tenantId));
}
