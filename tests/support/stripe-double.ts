// A local stand-in for api.stripe.com that the real `stripe` SDK talks to (through its
// host/port/protocol options, see createStripeClient). It answers with objects built from
// Stripe's own fixtures and behaves like Stripe where our code depends on it: form-encoded
// bodies, idempotency keys, Bearer auth and the error JSON shape.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import {
  checkoutSessionJson,
  nowSeconds,
  stripeFixture,
  stripeId,
  subscriptionJson,
  type JsonObject,
  type JsonValue,
  type SubscriptionObjectOptions,
} from './stripe-events.ts';

/** A form-decoded value: Stripe's encoding carries only strings, nested by brackets. */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormObject = { [key: string]: FormValue };

export interface RecordedRequest {
  method: string;
  /** Without the query string, e.g. /v1/customers. */
  path: string;
  query: FormObject;
  body: FormObject;
  idempotencyKey: string | null;
  stripeVersion: string | null;
}

export interface StripeErrorBody {
  error: { type: string; code?: string; message: string; param?: string };
}

export interface CustomerSeed {
  id?: string;
  email?: string | null;
  name?: string | null;
  metadata?: Record<string, string>;
}

export interface CompletedCheckout {
  session: Stripe.Checkout.Session;
  subscription: Stripe.Subscription | null;
}

export interface StripeDouble {
  /** e.g. http://127.0.0.1:54321 — pass to createStripeClient(key, url). */
  url: string;
  /** Every request received, oldest first (the Authorization header is never kept). */
  requests: RecordedRequest[];
  /** Current state of every object, by id. */
  objects: Map<string, JsonObject>;
  /**
   * Make the next request matching method and path prefix fail with `status` (queue several by
   * calling again). The failure carries Stripe-Should-Retry: false so the caller sees it exactly
   * once whatever its retry settings, and it is not stored under the idempotency key, so a
   * retry with the same key then succeeds.
   */
  failNext(method: string, pathPrefix: string, status: number, code?: string): void;
  /** Seed a subscription built from the fixture (periods live on items.data[i]). */
  putSubscription(opts?: SubscriptionObjectOptions): Stripe.Subscription;
  /** Seed a customer built from the fixture. */
  putCustomer(seed?: CustomerSeed): Stripe.Customer;
  /**
   * What Stripe does when the user pays: creates the subscription from the session's
   * line_items/subscription_data (trialing when trial_period_days was given) and marks the
   * session complete. Use the results to build checkout.session.completed / subscription events.
   */
  completeCheckoutSession(sessionId: string, opts?: { subscriptionId?: string }): CompletedCheckout;
  // --- subscription lifecycle and the Events API ---------------------------------------------
  /** Every event Stripe would list (GET /v1/events), oldest first; add one with addEvent. */
  events: JsonObject[];
  /** Records an event (e.g. one built with buildEvent) as Stripe's Events API would list it. */
  addEvent(event: object): void;
  /** Invoice items created by prorated subscription updates, oldest first. */
  prorations(): JsonObject[];
  /**
   * Billing meter events as Stripe keeps them: one per identifier (a repeated identifier
   * is ignored, as Stripe's uniqueness window does), oldest first.
   */
  meterEvents: JsonObject[];
  reset(): void;
  close(): Promise<void>;
}

// --- form decoding ---------------------------------------------------------------------------

function decodeComponent(s: string): string {
  const plusDecoded = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plusDecoded);
  } catch {
    return plusDecoded;
  }
}

function isIndex(segment: string): boolean {
  return segment === '' || /^\d{1,4}$/.test(segment);
}

/**
 * Decodes Stripe's form encoding (`a[b][0][c]=x`, `expand[]=y`) into nested objects/arrays.
 * Numeric or empty segments make arrays, except directly under `metadata`, whose keys are free-form.
 */
export function parseStripeForm(encoded: string): FormObject {
  const root: FormObject = {};
  for (const pair of encoded.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawKey = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1));
    const match = /^([^[\]]+)((?:\[[^[\]]*\])*)$/.exec(rawKey);
    const head = match?.[1] ?? rawKey;
    const segments = match?.[2] ? [...match[2].matchAll(/\[([^[\]]*)\]/g)].map((m) => m[1] ?? '') : [];
    if (head === '__proto__') continue;
    root[head] = assignPath(root[head], segments, value, head === 'metadata');
  }
  return root;
}

/** Returns `node` with `value` stored at `path` (creating containers as needed). */
function assignPath(node: FormValue | undefined, path: string[], value: string, isMetadata: boolean): FormValue {
  const [segment, ...rest] = path;
  if (segment === undefined) return value;
  if (!isMetadata && isIndex(segment) && (node === undefined || Array.isArray(node))) {
    const arr = node ?? [];
    const index = segment === '' ? arr.length : Number(segment);
    arr[index] = assignPath(arr[index], rest, value, false);
    return arr;
  }
  // A later string key on an array (or a key under a scalar) turns the node into an object.
  const obj: FormObject =
    node === undefined || typeof node === 'string' ? {} : Array.isArray(node) ? Object.fromEntries(Object.entries(node)) : node;
  if (segment !== '__proto__') obj[segment] = assignPath(obj[segment], rest, value, segment === 'metadata');
  return obj;
}

// --- helpers ---------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: StripeErrorBody,
  ) {
    super(body.error.message);
  }
}

function apiError(status: number, type: string, message: string, code?: string, param?: string): ApiError {
  return new ApiError(status, {
    error: { type, message, ...(code ? { code } : {}), ...(param ? { param } : {}) },
  });
}

function noSuch(kind: string, id: string, param = 'id'): ApiError {
  return apiError(404, 'invalid_request_error', `No such ${kind}: '${id}'`, 'resource_missing', param);
}

// Stripe reports a missing referenced object in a parameter as 400, not 404.
function noSuchParam(kind: string, id: string, param: string): ApiError {
  return apiError(400, 'invalid_request_error', `No such ${kind}: '${id}'`, 'resource_missing', param);
}

function missingParam(param: string): ApiError {
  return apiError(400, 'invalid_request_error', `Missing required param: ${param}.`, 'parameter_missing', param);
}

function injectedError(status: number, code: string | undefined): StripeErrorBody {
  const type = status === 402 ? 'card_error' : status >= 500 ? 'api_error' : 'invalid_request_error';
  const defaults: Record<number, string> = { 402: 'card_declined', 404: 'resource_missing', 409: 'lock_timeout', 429: 'rate_limit' };
  const finalCode = code ?? defaults[status];
  return {
    error: {
      type,
      message: `Injected failure (HTTP ${status}${finalCode ? `, ${finalCode}` : ''}) from the Stripe test double.`,
      ...(finalCode ? { code: finalCode } : {}),
    },
  };
}

function str(v: FormValue | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Metadata as a string map; Stripe's form encoding makes every value a string. */
function strMap(v: FormValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || typeof v === 'string' || Array.isArray(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

function bool(v: FormValue | undefined, param: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw apiError(
    400,
    'invalid_request_error',
    `Invalid boolean: ${typeof v === 'string' ? v : JSON.stringify(v)}`,
    'parameter_invalid_boolean',
    param,
  );
}

/** Stripe's metadata update: keys merge, an empty value deletes a key, metadata="" clears all. */
function mergeMetadata(current: JsonValue | undefined, update: FormValue): JsonObject {
  if (update === '') return {};
  const merged: JsonObject = current && typeof current === 'object' && !Array.isArray(current) ? { ...current } : {};
  for (const [k, v] of Object.entries(strMap(update))) {
    if (v === '') delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

function subscriptionItem(sub: JsonObject): JsonObject | undefined {
  const items = sub['items'];
  if (!items || typeof items !== 'object' || Array.isArray(items)) return undefined;
  const data = items['data'];
  const first = Array.isArray(data) ? data[0] : undefined;
  return first && typeof first === 'object' && !Array.isArray(first) ? first : undefined;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : (v?.[0] ?? null);
}

// --- the server ------------------------------------------------------------------------------

interface StoredResponse {
  method: string;
  path: string;
  rawBody: string;
  status: number;
  body: string;
}

interface Failure {
  method: string;
  pathPrefix: string;
  status: number;
  code: string | undefined;
}

type Handler = (params: string[], body: FormObject, query: FormObject) => { status: number; json: JsonObject };

export async function startStripeDouble(): Promise<StripeDouble> {
  const requests: RecordedRequest[] = [];
  const objects = new Map<string, JsonObject>();
  const idempotent = new Map<string, StoredResponse>();
  const failures: Failure[] = [];
  // Checkout creation params that are not part of the session object (line_items, subscription_data).
  const checkoutParams = new Map<string, FormObject>();

  const get = (kind: string, id: string): JsonObject => {
    const o = objects.get(id);
    if (!o || o['object'] !== kind) throw noSuch(kind, id);
    return o;
  };

  const putCustomerJson = (seed: CustomerSeed = {}): JsonObject => {
    const c = stripeFixture('customer');
    Object.assign(c, {
      id: seed.id ?? stripeId('cus'),
      created: nowSeconds(),
      email: seed.email ?? null,
      name: seed.name ?? null,
      metadata: seed.metadata ?? {},
      discount: null,
    } satisfies JsonObject);
    objects.set(c['id'] as string, c);
    return c;
  };

  const ensureCustomerParam = (body: FormObject): string | null => {
    const customer = str(body['customer']);
    if (customer === undefined || customer === '') return null;
    if (objects.get(customer)?.['object'] !== 'customer') throw noSuchParam('customer', customer, 'customer');
    return customer;
  };

  // --- billing meter events (usage-based billing) ---
  const meterEvents: JsonObject[] = [];
  const meterEventIds = new Set<string>();
  const meterEventRoutes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [
    {
      method: 'POST',
      pattern: /^\/v1\/billing\/meter_events$/,
      handler: (_p, body) => {
        const eventName = str(body['event_name']);
        if (!eventName) throw missingParam('event_name');
        const payload = strMap(body['payload']);
        if (!payload['stripe_customer_id']) throw missingParam('payload[stripe_customer_id]');
        const value = payload['value'] ?? '1';
        if (!/^\d{1,15}$/.test(value))
          throw apiError(
            400,
            'invalid_request_error',
            'payload[value] must be a whole number',
            'parameter_invalid_integer',
            'payload[value]',
          );
        const identifier = str(body['identifier']) ?? stripeId('mev');
        const timestamp = Number(str(body['timestamp']) ?? nowSeconds());
        const event = stripeFixture('billing.meter_event');
        Object.assign(event, {
          created: nowSeconds(),
          event_name: eventName,
          identifier,
          payload: { ...payload, value },
          timestamp,
        } satisfies JsonObject);
        if (!meterEventIds.has(identifier)) {
          meterEventIds.add(identifier);
          meterEvents.push(event);
        }
        return { status: 200, json: event };
      },
    },
  ];

  const routes: Array<{ method: string; pattern: RegExp; handler: Handler }> = [
    ...meterEventRoutes,
    {
      method: 'POST',
      pattern: /^\/v1\/customers$/,
      handler: (_p, body) => {
        const c = putCustomerJson({
          email: str(body['email']) ?? null,
          name: str(body['name']) ?? null,
          metadata: strMap(body['metadata']),
        });
        const description = str(body['description']);
        if (description !== undefined) c['description'] = description;
        const phone = str(body['phone']);
        if (phone !== undefined) c['phone'] = phone;
        return { status: 200, json: c };
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/customers\/([^/]+)$/,
      handler: ([id = '']) => ({ status: 200, json: get('customer', id) }),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/checkout\/sessions$/,
      handler: (_p, body) => {
        const mode = str(body['mode']);
        if (!mode) throw missingParam('mode');
        const lineItems = body['line_items'];
        if (mode !== 'setup' && (!Array.isArray(lineItems) || lineItems.length === 0)) throw missingParam('line_items');
        const session = checkoutSessionJson({
          mode,
          status: 'open',
          customer: ensureCustomerParam(body),
          clientReferenceId: str(body['client_reference_id']) ?? null,
          metadata: strMap(body['metadata']),
        });
        Object.assign(session, {
          success_url: str(body['success_url']) ?? null,
          cancel_url: str(body['cancel_url']) ?? null,
          customer_email: str(body['customer_email']) ?? null,
          // Filled in by Stripe only once the customer has gone through Checkout.
          customer_details: null,
          payment_status: 'unpaid',
        } satisfies JsonObject);
        const id = session['id'] as string;
        objects.set(id, session);
        checkoutParams.set(id, body);
        return { status: 200, json: session };
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/checkout\/sessions\/([^/]+)$/,
      handler: ([id = '']) => ({ status: 200, json: get('checkout.session', id) }),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/billing_portal\/sessions$/,
      handler: (_p, body) => {
        const customer = ensureCustomerParam(body);
        if (!customer) throw missingParam('customer');
        const s = stripeFixture('billing_portal.session');
        const id = stripeId('bps');
        Object.assign(s, {
          id,
          customer,
          created: nowSeconds(),
          livemode: false,
          flow: null,
          return_url: str(body['return_url']) ?? null,
          url: `https://billing.stripe.com/p/session/test_${id.slice(4)}`,
        } satisfies JsonObject);
        objects.set(id, s);
        return { status: 200, json: s };
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/subscriptions\/([^/]+)$/,
      handler: ([id = '']) => ({ status: 200, json: get('subscription', id) }),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/subscriptions\/([^/]+)$/,
      handler: ([id = ''], body) => {
        const sub = get('subscription', id);
        const cancelAtPeriodEnd = bool(body['cancel_at_period_end'], 'cancel_at_period_end');
        if (cancelAtPeriodEnd !== undefined) {
          if (sub['status'] === 'canceled') {
            throw apiError(400, 'invalid_request_error', 'A canceled subscription can only update its cancellation_details and metadata.');
          }
          // Like Stripe: cancel_at follows the period end, canceled_at records when it was requested.
          sub['cancel_at_period_end'] = cancelAtPeriodEnd;
          sub['cancel_at'] = cancelAtPeriodEnd ? (subscriptionItem(sub)?.['current_period_end'] ?? null) : null;
          sub['canceled_at'] = cancelAtPeriodEnd ? nowSeconds() : null;
        }
        if (body['metadata'] !== undefined) sub['metadata'] = mergeMetadata(sub['metadata'], body['metadata']);
        if (body['items'] !== undefined) lifecycle.updateItems(sub, body);
        return { status: 200, json: sub };
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/v1\/subscriptions\/([^/]+)$/,
      handler: ([id = ''], _body, query) => {
        const sub = get('subscription', id);
        if (sub['status'] === 'canceled') {
          throw apiError(400, 'invalid_request_error', `This subscription is already canceled: '${id}'`);
        }
        const now = nowSeconds();
        const details = query['cancellation_details'];
        const comment = details && typeof details === 'object' && !Array.isArray(details) ? str(details['comment']) : undefined;
        Object.assign(sub, {
          status: 'canceled',
          canceled_at: now,
          ended_at: now,
          cancel_at: null,
          cancel_at_period_end: false,
          cancellation_details: { comment: comment ?? null, feedback: null, reason: 'cancellation_requested' },
        } satisfies JsonObject);
        return { status: 200, json: sub };
      },
    },
  ];

  const lifecycle = subscriptionLifecycle(objects, get);
  routes.push(...lifecycle.routes);

  const send = (res: ServerResponse, status: number, body: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, {
      'Content-Type': 'application/json',
      'Request-Id': stripeId('req'),
      'Content-Length': Buffer.byteLength(body),
      ...extra,
    });
    res.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://double.invalid');
    const path = url.pathname;
    const rawBody = await readBody(req);
    const isForm = (header(req, 'content-type') ?? '').startsWith('application/x-www-form-urlencoded');
    const body = isForm ? parseStripeForm(rawBody) : {};
    const query = parseStripeForm(url.search.replace(/^\?/, ''));
    const idempotencyKey = header(req, 'idempotency-key');
    requests.push({ method, path, query, body, idempotencyKey, stripeVersion: header(req, 'stripe-version') });

    if (!/^Bearer sk_\S+$/.test(header(req, 'authorization') ?? '')) {
      const err: StripeErrorBody = {
        error: {
          type: 'invalid_request_error',
          message: 'You did not provide a valid API key. Provide it as a Bearer token, e.g. "Authorization: Bearer sk_test_...".',
        },
      };
      send(res, 401, JSON.stringify(err));
      return;
    }

    // Stripe keys idempotency on POST only; a replay returns the stored answer verbatim.
    const idemKey = method === 'POST' && idempotencyKey ? idempotencyKey : null;
    if (idemKey) {
      const stored = idempotent.get(idemKey);
      if (stored) {
        if (stored.method === method && stored.path === path && stored.rawBody === rawBody) {
          send(res, stored.status, stored.body, { 'Idempotent-Replayed': 'true', 'Idempotency-Key': idemKey });
        } else {
          const err: StripeErrorBody = {
            error: {
              type: 'idempotency_error',
              message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
            },
          };
          send(res, 400, JSON.stringify(err));
        }
        return;
      }
    }

    const failureIndex = failures.findIndex((f) => f.method === method && path.startsWith(f.pathPrefix));
    const failure = failureIndex === -1 ? undefined : failures.splice(failureIndex, 1)[0];
    if (failure) {
      send(res, failure.status, JSON.stringify(injectedError(failure.status, failure.code)), { 'Stripe-Should-Retry': 'false' });
      return;
    }

    let route: (typeof routes)[number] | undefined;
    let match: RegExpExecArray | null = null;
    for (const r of routes) {
      match = r.method === method ? r.pattern.exec(path) : null;
      if (match) {
        route = r;
        break;
      }
    }
    if (!route || !match) {
      const err: StripeErrorBody = {
        error: { type: 'invalid_request_error', message: `Unrecognized request URL (${method}: ${path}).` },
      };
      send(res, 404, JSON.stringify(err));
      return;
    }

    let status: number;
    let responseBody: string;
    try {
      const params = match.slice(1).map((p) => decodeURIComponent(p));
      const out = route.handler(params, body, query);
      status = out.status;
      responseBody = JSON.stringify(out.json);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      status = e.status;
      responseBody = JSON.stringify(e.body);
    }
    // Once an endpoint has run, Stripe stores its answer (success or error) under the key.
    if (idemKey) idempotent.set(idemKey, { method, path, rawBody, status, body: responseBody });
    send(res, status, responseBody, idemKey ? { 'Idempotency-Key': idemKey } : {});
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const err: StripeErrorBody = { error: { type: 'api_error', message: `Stripe double crashed: ${String(e)}` } };
      if (!res.headersSent) send(res, 500, JSON.stringify(err), { 'Stripe-Should-Retry': 'false' });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    objects,
    meterEvents,
    failNext(method, pathPrefix, status, code) {
      failures.push({ method: method.toUpperCase(), pathPrefix, status, code });
    },
    putSubscription(opts = {}) {
      const sub = subscriptionJson(opts);
      objects.set(sub['id'] as string, sub);
      // A copy, so editing the result never silently changes the double; edit `objects` for that.
      return structuredClone(sub) as unknown as Stripe.Subscription;
    },
    putCustomer(seed = {}) {
      return structuredClone(putCustomerJson(seed)) as unknown as Stripe.Customer;
    },
    completeCheckoutSession(sessionId, opts = {}) {
      const session = get('checkout.session', sessionId);
      if (session['status'] !== 'open') throw new Error(`checkout session ${sessionId} is not open`);
      const params = checkoutParams.get(sessionId) ?? {};
      let subscription: JsonObject | null = null;
      if (session['mode'] === 'subscription') {
        const customer = typeof session['customer'] === 'string' ? session['customer'] : (putCustomerJson()['id'] as string);
        const subData = params['subscription_data'];
        const subDataObj = subData && typeof subData === 'object' && !Array.isArray(subData) ? subData : {};
        const trialDays = Number(str(subDataObj['trial_period_days']) ?? 0);
        const lineItems = params['line_items'];
        const firstItem = Array.isArray(lineItems) ? lineItems[0] : undefined;
        const priceId = firstItem && typeof firstItem === 'object' && !Array.isArray(firstItem) ? str(firstItem['price']) : undefined;
        const start = nowSeconds();
        subscription = subscriptionJson({
          ...(opts.subscriptionId ? { id: opts.subscriptionId } : {}),
          customer,
          status: trialDays > 0 ? 'trialing' : 'active',
          ...(priceId ? { priceId } : {}),
          metadata: strMap(subDataObj['metadata']),
          created: start,
          currentPeriodStart: start,
          currentPeriodEnd: start + (trialDays > 0 ? trialDays : 30) * 86_400,
        });
        objects.set(subscription['id'] as string, subscription);
        session['customer'] = customer;
        session['subscription'] = subscription['id'] ?? null;
        session['payment_status'] = trialDays > 0 ? 'no_payment_required' : 'paid';
      } else {
        session['payment_status'] = session['mode'] === 'setup' ? 'no_payment_required' : 'paid';
      }
      session['status'] = 'complete';
      session['url'] = null;
      return {
        session: structuredClone(session) as unknown as Stripe.Checkout.Session,
        subscription: subscription ? (structuredClone(subscription) as unknown as Stripe.Subscription) : null,
      };
    },
    events: lifecycle.events,
    addEvent(event) {
      lifecycle.events.push(structuredClone(event) as JsonObject);
    },
    prorations() {
      return [...objects.values()].filter((o) => o['object'] === 'invoiceitem' && o['proration'] === true);
    },
    reset() {
      lifecycle.events.length = 0;
      requests.length = 0;
      objects.clear();
      idempotent.clear();
      failures.length = 0;
      checkoutParams.clear();
      meterEvents.length = 0;
      meterEventIds.clear();
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // The SDK keeps sockets alive; without this close() would wait for them to time out.
        server.closeAllConnections();
      });
    },
  };
}

// --- subscription lifecycle and the Events API -------------------------------------------------
// Plan changes (items with proration), resume of a paused subscription, customer deletion, and
// Stripe's event list (newest first, cursor paging with starting_after, filters created[gte]
// and types[]).

type Route = { method: string; pattern: RegExp; handler: Handler };

function asJsonObject(v: JsonValue | undefined): JsonObject | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

function subscriptionLifecycle(objects: Map<string, JsonObject>, get: (kind: string, id: string) => JsonObject) {
  const events: JsonObject[] = [];

  /** items[0][id]+items[0][price]: the item moves to the new price; proration_behavior decides the invoice items. */
  const updateItems = (sub: JsonObject, body: FormObject): void => {
    const items = body['items'];
    const first = Array.isArray(items) ? items[0] : undefined;
    const price = first && typeof first === 'object' && !Array.isArray(first) ? str(first['price']) : undefined;
    if (!price) throw missingParam('items[0][price]');
    if (sub['status'] === 'canceled') {
      throw apiError(400, 'invalid_request_error', 'A canceled subscription can only update its cancellation_details and metadata.');
    }
    const item = subscriptionItem(sub);
    if (!item) throw missingParam('items');
    const itemId = first && typeof first === 'object' && !Array.isArray(first) ? str(first['id']) : undefined;
    if (itemId !== undefined && itemId !== item['id']) throw noSuchParam('subscription_item', itemId, 'items[0][id]');
    const oldPrice = asJsonObject(item['price']);
    const oldPriceId = typeof oldPrice?.['id'] === 'string' ? oldPrice['id'] : null;
    if (oldPrice) oldPrice['id'] = price;
    const plan = asJsonObject(item['plan']);
    if (plan) plan['id'] = price;
    const behavior = str(body['proration_behavior']) ?? 'create_prorations';
    if (behavior !== 'none' && oldPriceId !== price) {
      const now = nowSeconds();
      const period = { start: now, end: typeof item['current_period_end'] === 'number' ? item['current_period_end'] : now };
      // Stripe credits the unused time on the old price and charges the new one for the rest of the period.
      for (const [p, sign] of [
        [oldPriceId, -1],
        [price, 1],
      ] as const) {
        const id = stripeId('ii');
        objects.set(id, {
          id,
          object: 'invoiceitem',
          customer: sub['customer'] ?? null,
          subscription: sub['id'] ?? null,
          price: p,
          proration: true,
          quantity: 1,
          amount_sign: sign,
          period,
          date: now,
        });
      }
    }
  };

  const listEvents = (query: FormObject): JsonObject => {
    const created = query['created'];
    const gte = created && typeof created === 'object' && !Array.isArray(created) ? Number(str(created['gte']) ?? NaN) : NaN;
    const typesParam = query['types'];
    const types = Array.isArray(typesParam) ? typesParam.filter((t): t is string => typeof t === 'string') : [];
    const limit = Math.min(Math.max(Number(str(query['limit']) ?? 10) || 10, 1), 100);
    // Newest first, like Stripe; among equal times the later-added first.
    let list = events
      .map((e, i) => ({ e, i }))
      .filter(
        ({ e }) =>
          (Number.isNaN(gte) || Number(e['created']) >= gte) &&
          (types.length === 0 || (typeof e['type'] === 'string' && types.includes(e['type']))),
      )
      .sort((a, b) => Number(b.e['created']) - Number(a.e['created']) || b.i - a.i)
      .map(({ e }) => e);
    const after = str(query['starting_after']);
    if (after !== undefined) {
      const at = list.findIndex((e) => e['id'] === after);
      if (at === -1) throw noSuchParam('event', after, 'starting_after');
      list = list.slice(at + 1);
    }
    return { object: 'list', url: '/v1/events', has_more: list.length > limit, data: list.slice(0, limit) };
  };

  const routes: Route[] = [
    {
      method: 'POST',
      pattern: /^\/v1\/subscriptions\/([^/]+)\/resume$/,
      handler: ([id = '']) => {
        const sub = get('subscription', id);
        if (sub['status'] !== 'paused') {
          throw apiError(400, 'invalid_request_error', 'Only a paused subscription can be resumed.', 'subscription_not_paused');
        }
        Object.assign(sub, { status: 'active', pause_collection: null } satisfies JsonObject);
        return { status: 200, json: sub };
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/v1\/customers\/([^/]+)$/,
      handler: ([id = '']) => {
        const customer = objects.get(id);
        if (!customer || customer['object'] !== 'customer' || customer['deleted'] === true) throw noSuch('customer', id);
        // Deleting a customer ends its subscriptions at once.
        const now = nowSeconds();
        for (const o of objects.values()) {
          if (o['object'] === 'subscription' && o['customer'] === id && o['status'] !== 'canceled') {
            Object.assign(o, {
              status: 'canceled',
              canceled_at: now,
              ended_at: now,
              cancel_at_period_end: false,
              cancel_at: null,
            } satisfies JsonObject);
          }
        }
        const deleted: JsonObject = { id, object: 'customer', deleted: true };
        objects.set(id, deleted);
        return { status: 200, json: deleted };
      },
    },
    { method: 'GET', pattern: /^\/v1\/events$/, handler: (_p, _body, query) => ({ status: 200, json: listEvents(query) }) },
    {
      method: 'GET',
      pattern: /^\/v1\/events\/([^/]+)$/,
      handler: ([id = '']) => {
        const event = events.find((e) => e['id'] === id);
        if (!event) throw noSuch('event', id);
        return { status: 200, json: event };
      },
    },
  ];

  return { events, routes, updateItems };
}
