// The Hasura settings the server acts on, derived once from the environment:
// nself's aliases resolved, the endpoint reduced to its base URL.
import type { Env } from '../core/config.ts';
import { trimEndChar } from '../core/text.ts';

export interface HasuraSettings {
  /** Base URL of the engine, without /v1/graphql (e.g. http://graphql-engine:8080). */
  baseUrl: string;
  adminSecret: string;
  /** Database URL (no password) from which per-tenant source URLs are built. */
  tenantDatabaseUrl: string;
  /** The same for other servers of database-tier tenants, by their setting's name (TENANT_DATABASE_URL_<NAME>). */
  serverDatabaseUrls: Record<string, string>;
  maxTenantSources: number;
  capPolicy: Env['HASURA_SOURCE_CAP_POLICY'];
  tenantSourceMaxConnections: number;
  timeoutMs: number;
  attempts: number;
}

/** `http://h:8080/v1/graphql/` -> `http://h:8080`; any other path is kept (a reverse-proxy prefix). */
export function hasuraBaseUrl(endpoint: string): string {
  const url = new URL(endpoint);
  url.search = '';
  url.hash = '';
  url.pathname = trimEndChar(url.pathname, '/').replace(/\/v1\/graphql$/, '');
  return trimEndChar(url.toString(), '/');
}

/** Undefined when no endpoint is configured (the metadata sync is then skipped). */
export function hasuraSettings(env: Env): HasuraSettings | undefined {
  const endpoint = env.HASURA_GRAPHQL_ENDPOINT ?? env.HASURA_ENDPOINT;
  const adminSecret = env.HASURA_GRAPHQL_ADMIN_SECRET ?? env.HASURA_ADMIN_SECRET;
  // config.ts refuses an endpoint without the other two, so this is only the "not configured" case.
  if (!endpoint || !adminSecret || !env.HASURA_TENANT_DATABASE_URL) return undefined;
  return {
    baseUrl: hasuraBaseUrl(endpoint),
    adminSecret,
    tenantDatabaseUrl: env.HASURA_TENANT_DATABASE_URL,
    serverDatabaseUrls: env.HASURA_TENANT_DATABASE_URLS,
    maxTenantSources: env.HASURA_MAX_TENANT_SOURCES,
    capPolicy: env.HASURA_SOURCE_CAP_POLICY,
    tenantSourceMaxConnections: env.HASURA_TENANT_SOURCE_MAX_CONNECTIONS,
    timeoutMs: env.HASURA_METADATA_TIMEOUT_MS,
    attempts: env.HASURA_METADATA_ATTEMPTS,
  };
}

/**
 * The tenant database URL ends up in Hasura's metadata (readable by anyone
 * with the admin secret, exported by `hasura metadata export`), so it must not
 * carry a password, nor a role option of its own (the server adds the tenant's).
 */
export function tenantDatabaseUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a postgres:// URL';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return 'must be a postgres:// URL';
  if (!url.username) return 'must name the login role Hasura uses for tenant sources (e.g. postgres://hasura_tenants@db:5432/app)';
  if (url.password) return 'must not contain a password (it would be stored in Hasura metadata); give Hasura PGPASSWORD instead';
  if (url.searchParams.has('options')) return 'must not set options (the server sets the tenant role there)';
  return undefined;
}
