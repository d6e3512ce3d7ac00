// /admin as the server answers it, without a browser: one page on every host
// with its face in a meta tag, the strict CSP, the client bundle and stylesheet.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';

let acme: MadeTenant;

const fx = useTestServer();
beforeAll(async () => {
  acme = await makeTenant(fx.db, 'acme');
});

const CSP =
  "default-src 'none';script-src 'self';style-src 'self';img-src 'self' data:;connect-src 'self';base-uri 'none';form-action 'self';frame-ancestors 'none'";

it('serves the page on the platform host and on a tenant host, naming the face, under the strict CSP', async () => {
  const platform = await request(fx.srv.url, '/admin');
  expect(platform.status).toBe(200);
  expect(platform.headers['content-security-policy']).toBe(CSP);
  expect(platform.headers['cache-control']).toBe('no-store');
  expect(platform.text).toContain('<meta name="admin-face" content="platform">');
  expect(platform.text).not.toContain('admin-tenant');

  const tenant = await request(fx.srv.url, '/admin/members/deep/path?x=1', { host: 'acme.saas.test' });
  expect(tenant.status).toBe(200);
  expect(tenant.headers['content-security-policy']).toBe(CSP);
  expect(tenant.text).toContain('<meta name="admin-face" content="tenant">');
  expect(tenant.text).toContain(`<meta name="admin-tenant" content="${acme.tenant.id}" data-slug="acme">`);
  // Scripts only by URL: no inline script, no inline style.
  expect(tenant.text.match(/<script[^>]*>/g)).toEqual(['<script type="module" src="/admin/app.js">']);
  expect(tenant.text).not.toMatch(/<style|style=/);

  const unknown = await request(fx.srv.url, '/admin', { host: 'nobody.saas.test' });
  expect([unknown.status, unknown.body.error.code]).toEqual([404, 'TENANT_NOT_FOUND']);
});

it('serves the client as one ES module, and the stylesheet', async () => {
  const js = await request(fx.srv.url, '/admin/app.js', { host: 'acme.saas.test' });
  expect(js.status).toBe(200);
  expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
  expect(js.headers['content-security-policy']).toBe(CSP);
  expect(js.text).not.toMatch(/^import |from ?"preact"/m);
  const css = await request(fx.srv.url, '/admin/app.css');
  expect(css.status).toBe(200);
  expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  expect(css.text).toContain('.uplot');
});

it('never renders raw HTML: no client source sets innerHTML or dangerouslySetInnerHTML', async () => {
  const dir = path.resolve(import.meta.dirname, '../../actions-server/src/admin/client');
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(10);
  for (const file of files)
    expect(await readFile(path.join(dir, file), 'utf8'), file).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});
