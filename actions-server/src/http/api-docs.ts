// The reference page at /api/docs, rendered on the server from the OpenAPI
// document. Plain HTML: no script and no style, so the API's default-deny
// Content-Security-Policy (http/security.ts) holds for it too; every text that
// comes from the document is escaped.
import { escapeHtml } from '../mail/templates.ts';
import type { OpenApiDocument, OpenApiOperation } from './openapi.ts';

const json = (value: unknown): string => `<pre><code>${escapeHtml(JSON.stringify(value, null, 2))}</code></pre>`;

const anchor = (method: string, path: string): string => `${method}-${path}`.replace(/[^\w-]+/g, '-');

function security(op: OpenApiOperation): string {
  const alternatives = (op.security ?? []).map((requirement) =>
    Object.entries(requirement)
      .map(([scheme, scopes]) => (scopes.length ? `${scheme} (${scopes.join(', ')})` : scheme))
      .join(' and '),
  );
  return alternatives.length ? alternatives.map(escapeHtml).join(' or ') : 'anonymous';
}

function parameters(op: OpenApiOperation): string {
  if (!op.parameters?.length) return '';
  const rows = op.parameters
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? 'yes' : 'no'}</td>` +
        `<td>${json(p.schema ?? {})}</td></tr>`,
    )
    .join('');
  return `<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Required</th><th>Schema</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function operation(method: string, path: string, op: OpenApiOperation): string {
  const body = op.requestBody?.content['application/json']?.schema;
  const responses = Object.entries(op.responses)
    .map(([status, r]) => {
      const content = Object.entries(r.content ?? {})
        .map(([type, c]) => `<p>${escapeHtml(type)}</p>${c.schema ? json(c.schema) : ''}`)
        .join('');
      return `<dt>${escapeHtml(status)}</dt><dd><p>${escapeHtml(r.description)}</p>${content}</dd>`;
    })
    .join('');
  return (
    `<section id="${escapeHtml(anchor(method, path))}"><h3><code>${escapeHtml(method.toUpperCase())} ${escapeHtml(path)}</code></h3>` +
    `<p>${escapeHtml(op.summary ?? '')}</p>${op.description ? `<p>${escapeHtml(op.description)}</p>` : ''}` +
    `<p>Auth: ${security(op)}</p>${parameters(op)}${body ? `<h4>Request body</h4>${json(body)}` : ''}` +
    `<h4>Responses</h4><dl>${responses}</dl></section>`
  );
}

export function renderApiDocs(doc: OpenApiDocument): string {
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method, path, op: op })),
  );
  const byTag = (doc.tags ?? []).map((tag) => ({ tag, ops: operations.filter((o) => o.op.tags?.includes(tag.name)) }));
  const toc = byTag
    .map(
      ({ tag, ops }) =>
        `<li>${escapeHtml(tag.name)}<ul>${ops
          .map(
            (o) => `<li><a href="#${escapeHtml(anchor(o.method, o.path))}">${escapeHtml(`${o.method.toUpperCase()} ${o.path}`)}</a></li>`,
          )
          .join('')}</ul></li>`,
    )
    .join('');
  const sections = byTag
    .map(
      ({ tag, ops }) =>
        `<h2>${escapeHtml(tag.name)}</h2><p>${escapeHtml(tag.description ?? '')}</p>${ops.map((o) => operation(o.method, o.path, o.op)).join('')}`,
    )
    .join('');
  const schemes = Object.entries(doc.components?.securitySchemes ?? {})
    .map(([name, s]) => `<dt><code>${escapeHtml(name)}</code></dt><dd>${escapeHtml(s.description ?? s.type)}</dd>`)
    .join('');
  const schemas = Object.entries(doc.components?.schemas ?? {})
    .map(([name, schema]) => `<h3 id="schema-${escapeHtml(name)}">${escapeHtml(name)}</h3>${json(schema)}`)
    .join('');
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)}</title></head><body>` +
    `<header><h1>${escapeHtml(doc.info.title)}</h1><p>${escapeHtml(doc.info.description ?? '')}</p>` +
    `<p>Machine-readable: <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI ${escapeHtml(doc.openapi)})</p></header>` +
    `<nav><h2>Routes</h2><ul>${toc}</ul></nav><main><h2>Authentication</h2><dl>${schemes}</dl>${sections}` +
    `<h2>Schemas</h2>${schemas}</main></body></html>`
  );
}
