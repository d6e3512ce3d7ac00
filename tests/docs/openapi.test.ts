// The OpenAPI document covers exactly the routes the app serves, is served at
// /api/openapi.json, and its reference page at /api/docs is plain escaped HTML
// under the API's Content-Security-Policy. (That real answers match the document
// is checked by every route test through tests/support/http.ts.)
import { describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { apiDocument, createApp } from '../../actions-server/src/http/app.ts';
import { openApiPath } from '../../actions-server/src/http/openapi.ts';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';

const fx = useTestServer();

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  slash?: boolean;
}

/** Every METHOD path of the app's routers, walked through nested routers (all mounted at the root). */
function servedRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const path of paths)
          for (const [method, on] of Object.entries(layer.route.methods))
            if (on && method !== '_all') found.push(`${method.toUpperCase()} ${path}`);
      } else if (layer.handle?.stack) {
        // A router mounted under a prefix would hide the prefix from this walk: every router is mounted at the root.
        expect(layer.slash, 'a router mounted under a path prefix').toBe(true);
        walk(layer.handle.stack);
      }
    }
  };
  walk((app.router as unknown as { stack: Layer[] }).stack);
  return found;
}

const documented = (): string[] =>
  Object.entries(apiDocument().paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));

// The admin pages are HTML for browsers, not part of the REST API.
const isApi = (route: string): boolean => !/^\w+ \/admin(?:[/{]|$)/.test(route);

describe('the OpenAPI document', () => {
  it('describes every route the app serves, and no other', () => {
    const served = servedRoutes(createApp(fx.srv.ctx))
      .filter(isApi)
      .map((r) => {
        const [method, path] = r.split(' ');
        return `${method} ${openApiPath(path!)}`;
      });
    expect(served.length).toBeGreaterThan(60);
    expect(
      served.every((r) => /^\w+ \/(?:api|hasura)\//.test(r)),
      'routes outside /api and /hasura',
    ).toBe(true);
    const docs = documented();
    expect(
      served.filter((r) => !docs.includes(r)),
      'served but not in the OpenAPI document',
    ).toEqual([]);
    expect(
      docs.filter((r) => !served.includes(r)),
      'in the OpenAPI document but not served',
    ).toEqual([]);
    expect(new Set(served).size, 'a route served twice').toBe(served.length);
  });

  it('answers every error in the one error shape, a component, and says who may call each route', () => {
    const doc = apiDocument();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components?.securitySchemes ?? {}).sort()).toEqual(['actionsSecret', 'apiKey', 'bearerAuth', 'eventSecret']);
    const anonymous: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        expect(op.security, `${method} ${path}: security`).toBeDefined();
        if (op.security!.length === 0) anonymous.push(`${method.toUpperCase()} ${path}`);
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          const schema = response.content?.['application/json']?.schema;
          // Hasura's action dispatcher answers refusals in Hasura's own format (plus the one shape for a body that is not JSON).
          if (path === '/hasura/actions' && Number(status) < 500) continue;
          expect(schema, `${method} ${path} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
        }
      }
    }
    expect(anonymous).toContain('POST /api/auth/login');
    expect(anonymous).toContain('GET /api/health/live');
    expect(anonymous).not.toContain('GET /api/tenants/{id}');
    expect(doc.components?.schemas?.['Error']).toMatchObject({ required: ['error'] });
  });

  it('is served at /api/openapi.json', async () => {
    const res = await request(fx.srv.url, '/api/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(apiDocument())));
  });

  it('has a reference page at /api/docs: escaped HTML, no script or style, under the default-deny policy', async () => {
    const res = await request(fx.srv.url, '/api/docs');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.text).not.toMatch(/<script|<style|\sstyle=|\son\w+=/i);
    for (const path of Object.keys(apiDocument().paths)) expect(res.text).toContain(path);
    // Text from the document is escaped: the summaries' apostrophes, the schemas' quotes.
    expect(res.text).toContain('Sign in on a tenant&#39;s host');
    expect(res.text).toContain('&quot;$ref&quot;: &quot;#/components/schemas/Error&quot;');
    expect(res.text).not.toContain('"$ref"');
  });
});
