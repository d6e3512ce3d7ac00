// The OpenAPI 3.1 description of the REST API, generated from the zod schemas
// the routes parse (request) and answer with (response). Each area describes
// its own routes in one function next to its router (ARCHITECTURE.md §3); the
// list of areas is in http/app.ts, and tests/docs/openapi.test.ts fails when a
// route the app serves is not described, or the other way round.
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../core/errors.ts';
import { renderApiDocs } from './api-docs.ts';

const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

/** The one error shape of every REST answer that is not a success (core/errors.ts errorBody). */
export const errorSchema = z
  .object({
    error: z
      .object({
        code: z.enum(ERROR_CODES),
        message: z.string(),
        details: z.record(z.string(), z.unknown()).optional(),
      })
      .strict(),
  })
  .strict()
  .meta({ id: 'Error', description: 'The one error shape: a stable code, a message for people, and details when they help.' });

/** The `:id` of every `/api/tenants/:id/...` route (anything but a uuid is answered 404). */
export const tenantPathParams = z.object({ id: z.uuid() });

/** `{"status": "ok"}`-style acknowledgements. */
export const statusSchema = (status: string) => z.object({ status: z.literal(status) });

/**
 * Who may call a route, as security requirements:
 * - anonymous: nothing is checked;
 * - optionalPerson: anonymous, or a session's access token that changes the answer;
 * - person: a session's access token (JWT);
 * - caller: a session's access token or a tenant API key;
 * - platformAdmin: a platform administrator's access token;
 * - actionsSecret / eventSecret: the shared secret header Hasura sends.
 */
export type ApiAuth = 'anonymous' | 'optionalPerson' | 'person' | 'caller' | 'platformAdmin' | 'actionsSecret' | 'eventSecret';

const SECURITY: Record<ApiAuth, Record<string, string[]>[]> = {
  anonymous: [],
  optionalPerson: [{}, { bearerAuth: [] }],
  person: [{ bearerAuth: [] }],
  caller: [{ bearerAuth: [] }, { apiKey: [] }],
  platformAdmin: [{ bearerAuth: ['platform_admin'] }],
  actionsSecret: [{ actionsSecret: [] }],
  eventSecret: [{ eventSecret: [] }],
};

type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';
type ZodObjectLike = z.ZodObject;

export interface ApiRoute {
  method: HttpMethod;
  /** As the router spells it (`/api/tenants/:id`). */
  path: string;
  summary: string;
  description?: string;
  auth: ApiAuth;
  /** Served only on a tenant's host (subdomain or custom domain). */
  tenantHost?: boolean;
  /** Path parameters; any not named here are plain strings. */
  params?: ZodObjectLike;
  query?: ZodObjectLike;
  /** The JSON body the handler parses. */
  body?: z.ZodType;
  /** The success status (200 unless said; several when the answer says which) and its JSON body; `null`: no body (204). */
  status?: number | readonly number[];
  /** A JSON body; `null`: none (204); or another content type, optionally with a JSON alternative (`json`). */
  response: z.ZodType | null | { contentType: string; description: string; json?: z.ZodType };
  /** Statuses this route answers besides those every route of its kind does (see responsesFor). */
  errors?: readonly number[];
  /** Answers at an error status that are not the one error shape (Hasura's own formats). */
  errorBodies?: Readonly<Record<number, z.ZodType>>;
}

/** Collects the routes of every area; `document()` turns them into OpenAPI. */
export class ApiDocs {
  private readonly routes: { route: ApiRoute; tag: string }[] = [];
  private readonly tags: { name: string; description: string }[] = [];

  /** One area's routes, grouped under a tag. */
  area(name: string, description: string, describe: (area: { route: (route: ApiRoute) => void }) => void): void {
    this.tags.push({ name, description });
    describe({ route: (route) => this.routes.push({ route, tag: name }) });
  }

  document(): OpenApiDocument {
    const registry = new OpenAPIRegistry();
    registry.registerComponent('securitySchemes', 'bearerAuth', {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description:
        'A session access token from sign-up, login, refresh or an accepted invitation. It works only on its own tenant host ' +
        '(403 TENANT_MISMATCH elsewhere); a platform administrator signs in on the platform host.',
    });
    registry.registerComponent('securitySchemes', 'apiKey', {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'sk_<12 characters>.<43 characters>',
      description:
        'A tenant API key, sent like a token: `Authorization: Bearer sk_…`. It acts as its role (member or tenant_admin) in its tenant ' +
        'only, and never as a person (routes that manage people, keys or invitations refuse it with 403).',
    });
    registry.registerComponent('securitySchemes', 'actionsSecret', { type: 'apiKey', in: 'header', name: 'X-Actions-Secret' });
    registry.registerComponent('securitySchemes', 'eventSecret', { type: 'apiKey', in: 'header', name: 'X-Hasura-Event-Secret' });
    for (const { route, tag } of this.routes) registry.registerPath(routeConfig(route, tag));
    const generated = new OpenApiGeneratorV31(registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: {
        title: 'Actions server REST API',
        version: '1',
        description:
          'The REST API of the multi-tenant backend. A tenant is named by the host (its subdomain or custom domain); the platform ' +
          'host names none. Every error has one shape (the Error schema). Every route may also answer 500 INTERNAL and 503 ' +
          '(SERVICE_UNAVAILABLE while the server starts or drains, DATABASE_UNAVAILABLE), both with Retry-After where retrying helps.',
      },
      tags: this.tags,
    });
    return generated as OpenApiDocument;
  }
}

/** The parts of the generated document this server and its tests read. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  tags?: { name: string; description?: string }[];
  paths: Record<string, Partial<Record<HttpMethod, OpenApiOperation>>>;
  components?: { schemas?: Record<string, unknown>; securitySchemes?: Record<string, { type: string; description?: string }> };
}

export interface OpenApiOperation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  parameters?: { name: string; in: string; required?: boolean; schema?: unknown; description?: string }[];
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { description: string; content?: Record<string, { schema?: unknown }> }>;
}

/** `/api/tenants/:id` → `/api/tenants/{id}`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/:(\w+)/g, '{$1}');
}

const SUCCESS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No content' };

/** What an error status means here: the codes of the catalogue that answer with it. */
function errorText(status: number): string {
  const codes = ERROR_CODES.filter((c) => ERROR_STATUS[c] === status);
  return codes.length ? codes.join(', ') : 'Error';
}

/**
 * The error statuses of a route: its own, and those its kind always risks.
 * Every route: 500, 503 (starting, draining, database lost). Under /api: 404
 * (a host naming no tenant) and 429 (rate limits). A JSON body: 400 and 413.
 * A credential: 401; and the tenant host's refusals (403 suspended, 410 closed).
 */
function errorStatuses(route: ApiRoute): number[] {
  const statuses = new Set<number>([500, 503, ...(route.errors ?? [])]);
  if (route.path.startsWith('/api/')) [404, 429].forEach((s) => statuses.add(s));
  if (route.body) [400, 413].forEach((s) => statuses.add(s));
  if (route.auth !== 'anonymous') statuses.add(401);
  if (route.tenantHost || ['person', 'caller', 'platformAdmin'].includes(route.auth)) [403, 410].forEach((s) => statuses.add(s));
  return [...statuses].sort((a, b) => a - b);
}

function successResponse(route: ApiRoute, status: number): ResponseConfig {
  const description = SUCCESS_TEXT[status] ?? 'Success';
  const { response } = route;
  if (response === null) return { description };
  if (response instanceof z.ZodType) return { description, content: { 'application/json': { schema: response } } };
  return {
    description: response.description,
    content: {
      [response.contentType]: { schema: z.string() },
      ...(response.json ? { 'application/json': { schema: response.json } } : {}),
    },
  };
}

function pathParams(route: ApiRoute): ZodObjectLike | undefined {
  const names = [...route.path.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  if (!names.length) return undefined;
  const given = route.params?.shape ?? {};
  return z.object(Object.fromEntries(names.map((n) => [n, given[n] ?? z.string()])));
}

function routeConfig(route: ApiRoute, tag: string): RouteConfig {
  const successes = typeof route.status === 'number' ? [route.status] : (route.status ?? [200]);
  const responses: Record<string, ResponseConfig> = Object.fromEntries(successes.map((s) => [s, successResponse(route, s)]));
  for (const status of errorStatuses(route)) {
    responses[status] = {
      description: errorText(status),
      content: { 'application/json': { schema: route.errorBodies?.[status] ?? errorSchema } },
    };
  }
  const params = pathParams(route);
  return {
    method: route.method,
    path: openApiPath(route.path),
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [tag],
    security: SECURITY[route.auth],
    request: {
      ...(params ? { params } : {}),
      ...(route.query ? { query: route.query } : {}),
      ...(route.body ? { body: { required: true, content: { 'application/json': { schema: route.body } } } } : {}),
    },
    responses,
  };
}

/** The description itself, and its reference page, are routes too. */
export function describeOpenApi(api: ApiDocs): void {
  api.area('API description', 'This document and a page to read it.', (a) => {
    a.route({
      method: 'get',
      path: '/api/openapi.json',
      summary: 'This OpenAPI 3.1 document',
      auth: 'anonymous',
      response: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }),
    });
    a.route({
      method: 'get',
      path: '/api/docs',
      summary: 'A reference page rendered from this document',
      auth: 'anonymous',
      response: { contentType: 'text/html', description: 'The reference page (HTML, no script)' },
    });
  });
}

/** GET /api/openapi.json and GET /api/docs, built once from the areas' descriptions. */
export function openApiRoutes(document: () => OpenApiDocument): Router {
  const router = Router();
  let html: string | undefined;
  router.get('/api/openapi.json', (_req, res) => {
    res.json(document());
  });
  router.get('/api/docs', (_req, res) => {
    html ??= renderApiDocs(document());
    res.type('html').send(html);
  });
  return router;
}
