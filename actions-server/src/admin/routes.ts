// The admin portal at /admin: one page, its script and its stylesheet, on the
// platform host and on every tenant host. The page is the same everywhere; a
// meta tag tells the client which face to show. Everything it shows comes from
// the REST API with the signed-in person's token (README "Admin portal").
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Router, type Request, type Response } from 'express';
import type { AppContext } from '../core/context.ts';
import { tenantContext } from '../http/middleware.ts';
import { adminHeaders } from '../http/security.ts';
import { buildClient, type ClientBundle } from './bundle.ts';

const HERE = import.meta.dirname;
const UPLOT_CSS = path.resolve(HERE, '../../../node_modules/uplot/dist/uPlot.min.css');

/** Built once per process, on the first request for it (a server that never serves /admin never pays for it). */
let bundle: Promise<ClientBundle> | undefined;
let stylesheet: Promise<string> | undefined;

async function readStylesheet(): Promise<string> {
  const [uplot, own] = await Promise.all([readFile(UPLOT_CSS, 'utf8'), readFile(path.join(HERE, 'client/styles.css'), 'utf8')]);
  return `${uplot}\n${own}`;
}

/** Slugs and uuids only reach this page, but attribute values are escaped all the same. */
function attr(value: string): string {
  return value.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(req: Request): string {
  const tenant = req.tenant;
  const face = tenant ? 'tenant' : 'platform';
  const tenantMeta = tenant ? `\n<meta name="admin-tenant" content="${attr(tenant.id)}" data-slug="${attr(tenant.slug)}">` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="admin-face" content="${face}">${tenantMeta}
<title>Admin</title>
<link rel="stylesheet" href="/admin/app.css">
<script type="module" src="/admin/app.js"></script>
</head>
<body>
<div id="app"><p>Loading…</p></div>
</body>
</html>
`;
}

function send(res: Response, type: string, body: string): void {
  res.type(type).setHeader('Cache-Control', 'no-cache');
  res.send(body);
}

export function adminRoutes(ctx: AppContext): Router {
  const router = Router();
  router.use('/admin', adminHeaders(), tenantContext(ctx));
  router.get('/admin/app.js', async (_req, res) => {
    bundle ??= buildClient();
    send(res, 'text/javascript', (await bundle).js);
  });
  router.get('/admin/app.css', async (_req, res) => {
    stylesheet ??= readStylesheet();
    send(res, 'text/css', await stylesheet);
  });
  // Every other path under /admin is a client route: the same page, the client picks the view.
  router.get('/admin{/*path}', (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(page(req));
  });
  return router;
}
