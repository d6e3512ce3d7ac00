// Checks a real answer of the server against its OpenAPI document: the status
// must be one the operation documents, and the body must match that response's
// schema. request() in tests/support/http.ts runs it on every answer to a
// documented path, so every route test also tests the document.
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { apiDocument } from '../../actions-server/src/http/app.ts';
import type { OpenApiDocument } from '../../actions-server/src/http/openapi.ts';

const COMPONENTS = 'components.json';

interface Template {
  path: string;
  re: RegExp;
  params: number;
}

// Built when this module loads (before any server starts): generating the document takes seconds,
// and blocking a test's event loop that long in the middle of its requests would let the
// in-process server close kept-alive sockets under the client.
const doc: OpenApiDocument = apiDocument();
// Literal paths before templated ones (/api/tenants/by-slug before /api/tenants/{id}), as the routers order them.
const templates: Template[] = Object.keys(doc.paths)
  .map((path) => ({
    path,
    re: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}$`),
    params: (path.match(/\{/g) ?? []).length,
  }))
  .sort((a, b) => a.params - b.params);
// The shared components are one schema resource; each response schema is compiled on first use,
// its references pointed at it.
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajvFormats.default(ajv);
ajv.addSchema({ components: doc.components ?? {} }, COMPONENTS);
const validators = new Map<string, ValidateFunction>();

/** The documented path a request path falls under, if any. */
export function documentedPath(path: string): string | undefined {
  const bare = path.split('?')[0]!;
  return templates.find((t) => t.re.test(bare))?.path;
}

/**
 * Throws when the answer does not conform: an undocumented status, a content
 * type the response does not name, or a JSON body that its schema refuses.
 * Requests to undocumented paths or methods (HEAD, preflights, a 404 probe) are not checked.
 */
export function checkAnswer(
  method: string,
  path: string,
  answer: { status: number; contentType: string | undefined; body: unknown; text: string },
): void {
  const template = documentedPath(path);
  const verb = method.toLowerCase() as 'get';
  const operation = template ? doc.paths[template]?.[verb] : undefined;
  if (!template || !operation) return;
  const where = `${method} ${path} (${template})`;
  const response = operation.responses[String(answer.status)];
  if (!response) {
    throw new Error(
      `${where} answered ${answer.status}, which the OpenAPI document does not list for it ` +
        `(${Object.keys(operation.responses).join(', ')}): ${answer.text.slice(0, 500)}`,
    );
  }
  const content = response.content ?? {};
  const types = Object.keys(content);
  if (types.length === 0) {
    if (answer.text !== '') throw new Error(`${where} answered ${answer.status} with a body the document says it has none of`);
    return;
  }
  const mediaType = answer.contentType?.split(';')[0]?.trim();
  if (!mediaType || !types.includes(mediaType)) {
    throw new Error(`${where} answered ${answer.status} as ${mediaType ?? 'no content type'}; the document names ${types.join(', ')}`);
  }
  if (mediaType !== 'application/json') return;
  const key = `${verb} ${template} ${answer.status}`;
  let validate = validators.get(key);
  if (!validate) {
    const schema = JSON.stringify(content[mediaType]?.schema ?? {}).replaceAll('"#/components/', `"${COMPONENTS}#/components/`);
    validate = ajv.compile(JSON.parse(schema) as object);
    validators.set(key, validate);
  }
  if (!validate(answer.body)) {
    throw new Error(
      `${where} answered ${answer.status} with a body that does not match the OpenAPI document: ` +
        `${ajv.errorsText(validate.errors)}\n${answer.text.slice(0, 1000)}`,
    );
  }
}
