// Talking to Hasura: the metadata API (what the server uses to expose tenants)
// and a typed GraphQL client built on graphql-request (for scripts, jobs and
// frontends; see the README's frontend example). The admin secret never
// leaves the server: GraphQL clients for users carry the user's token.
import { GraphQLClient } from 'graphql-request';
import { hasuraBaseUrl } from './settings.ts';

/** A `POST /v1/metadata` body (hasura/README.md §8). */
export interface MetadataRequest {
  type: string;
  args: unknown;
  version?: 1 | 2;
  resource_version?: number;
}

/** Hasura refused (status 4xx/5xx, with its `{code, error, path}`), or could not be reached (status 0). */
export class HasuraMetadataError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly path?: string,
  ) {
    super(message);
    this.name = 'HasuraMetadataError';
  }

  /** Worth another attempt: no answer, or a server-side failure. A 4xx is a definite refusal. */
  get retryable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

export interface MetadataClient {
  request<T = unknown>(body: MetadataRequest): Promise<T>;
}

export interface MetadataClientOptions {
  /** Engine URL, with or without /v1/graphql. */
  endpoint: string;
  adminSecret: string;
  timeoutMs: number;
}

interface HasuraErrorBody {
  code?: unknown;
  error?: unknown;
  path?: unknown;
}

/** One request per call, no retries: callers that retry must first make the retry safe (see exposure.ts). */
export function createMetadataClient(opts: MetadataClientOptions): MetadataClient {
  const url = `${hasuraBaseUrl(opts.endpoint)}/v1/metadata`;
  return {
    async request<T>(body: MetadataRequest): Promise<T> {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-hasura-admin-secret': opts.adminSecret },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      } catch (err) {
        throw new HasuraMetadataError(0, 'unreachable', `Hasura metadata API unreachable: ${(err as Error).message}`);
      }
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      if (!res.ok) {
        const e = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as HasuraErrorBody;
        throw new HasuraMetadataError(
          res.status,
          typeof e.code === 'string' ? e.code : 'unexpected',
          typeof e.error === 'string' ? e.error : `Hasura answered ${res.status}`,
          typeof e.path === 'string' ? e.path : undefined,
        );
      }
      return parsed as T;
    },
  };
}

export interface GraphqlClientOptions {
  /** Engine URL, with or without /v1/graphql. */
  endpoint: string;
  /** A user's login token: Hasura's auth webhook (or JWT mode) derives the session from it. */
  token?: string;
  /** Server-side jobs only; never ship it to a browser. */
  adminSecret?: string;
  /** Lower the session to this Hasura role (only roles the token allows). */
  role?: string;
}

/**
 * A graphql-request client for Hasura's GraphQL endpoint. Pass it documents
 * typed by graphql-codegen (TypedDocumentNode) and `request` returns typed data.
 */
export function createGraphqlClient(opts: GraphqlClientOptions): GraphQLClient {
  const headers: Record<string, string> = {};
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  if (opts.adminSecret) headers['x-hasura-admin-secret'] = opts.adminSecret;
  if (opts.role) headers['x-hasura-role'] = opts.role;
  return new GraphQLClient(`${hasuraBaseUrl(opts.endpoint)}/v1/graphql`, { headers });
}
