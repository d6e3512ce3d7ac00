// The Hasura clients: the metadata API client against the /v1/metadata double,
// and the graphql-request client against a local endpoint that records what it
// receives.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'graphql';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHasuraDouble, type HasuraDouble } from '../support/hasura-double.ts';
import { createGraphqlClient, createMetadataClient, HasuraMetadataError } from '../../actions-server/src/hasura/client.ts';
import { hasuraBaseUrl } from '../../actions-server/src/hasura/settings.ts';

const SECRET = 'client-admin-secret';

describe('hasuraBaseUrl', () => {
  it.each([
    ['http://graphql-engine:8080/v1/graphql', 'http://graphql-engine:8080'],
    ['http://graphql-engine:8080/', 'http://graphql-engine:8080'],
    ['https://api.example.com/hasura/v1/graphql/', 'https://api.example.com/hasura'],
    ['http://localhost:8080?x=1', 'http://localhost:8080'],
  ])('%s -> %s', (endpoint, base) => {
    expect(hasuraBaseUrl(endpoint)).toBe(base);
  });
});

describe('createMetadataClient', () => {
  let hasura: HasuraDouble;
  beforeAll(async () => {
    hasura = await startHasuraDouble({ adminSecret: SECRET });
  });
  afterAll(async () => {
    await hasura?.close();
  });

  it('sends the admin secret to /v1/metadata, whatever form the endpoint takes', async () => {
    for (const endpoint of [hasura.url, `${hasura.url}/v1/graphql`]) {
      const client = createMetadataClient({ endpoint, adminSecret: SECRET, timeoutMs: 30_000 });
      const answer = await client.request<{ resource_version: number; metadata: { version: number } }>({
        type: 'export_metadata',
        version: 2,
        args: {},
      });
      expect(answer.metadata.version).toBe(3);
    }
  });

  it("reports Hasura's refusal with its status and code, as not worth retrying", async () => {
    const client = createMetadataClient({ endpoint: hasura.url, adminSecret: 'wrong', timeoutMs: 30_000 });
    const err = await client.request({ type: 'export_metadata', version: 2, args: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HasuraMetadataError);
    expect(err).toMatchObject({ status: 401, code: 'access-denied', retryable: false });
    expect((err as Error).message).not.toContain('wrong');
  });

  it('reports a server error and an unreachable engine as retryable', async () => {
    hasura.failOn('pg_drop_source', 1, 500);
    const client = createMetadataClient({ endpoint: hasura.url, adminSecret: SECRET, timeoutMs: 30_000 });
    await expect(client.request({ type: 'pg_drop_source', args: { name: 'x' } })).rejects.toMatchObject({ status: 500, retryable: true });
    const down = createMetadataClient({ endpoint: 'http://127.0.0.1:9', adminSecret: SECRET, timeoutMs: 2_000 });
    await expect(down.request({ type: 'export_metadata', version: 2, args: {} })).rejects.toMatchObject({
      status: 0,
      code: 'unreachable',
      retryable: true,
    });
  });
});

describe('createGraphqlClient (graphql-request)', () => {
  let url: string;
  const seen: { method?: string; path?: string; headers: IncomingHttpHeaders; body: unknown }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ method: req.method, path: req.url, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { tenants: [{ name: 'Acme', slug: 'acme' }] } }));
    });
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/graphql`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  // What graphql-codegen emits for a frontend's operations: a typed document.
  const TenantQuery = parse(/* GraphQL */ `
    query Tenant($slug: String!) {
      tenants(where: { slug: { _eq: $slug } }) {
        name
        slug
      }
    }
  `) as TypedDocumentNode<{ tenants: { name: string; slug: string }[] }, { slug: string }>;

  it("posts typed operations to /v1/graphql with the user's token and chosen role", async () => {
    const client = createGraphqlClient({ endpoint: url, token: 'user-token', role: 'member' });
    const data = await client.request(TenantQuery, { slug: 'acme' });
    expect(data.tenants[0]?.name).toBe('Acme');
    const last = seen.at(-1)!;
    expect(last.method).toBe('POST');
    expect(last.path).toBe('/v1/graphql');
    expect(last.headers['authorization']).toBe('Bearer user-token');
    expect(last.headers['x-hasura-role']).toBe('member');
    expect(last.headers['x-hasura-admin-secret']).toBeUndefined();
    expect(last.body).toMatchObject({ variables: { slug: 'acme' }, operationName: 'Tenant' });
  });
});
