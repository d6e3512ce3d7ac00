import Stripe from 'stripe';
import type { AppContext } from '../core/context.ts';
import { AppError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';

// The SDK default (80 s) outlives any request we serve; fail well before the caller gives up.
const REQUEST_TIMEOUT_MS = 20_000;

export interface StripeApiBase {
  host: string;
  port: number;
  protocol: Stripe.HttpProtocol;
}

/**
 * Parses a `STRIPE_API_BASE`-style URL (e.g. `http://127.0.0.1:12111`) into the SDK's
 * host/port/protocol options. Only scheme, host and port are allowed: the SDK always
 * prefixes `/v1/`, so a path would be silently dropped.
 */
export function parseStripeApiBase(apiBase: string): StripeApiBase {
  let url: URL;
  try {
    url = new URL(apiBase);
  } catch {
    throw new Error(`Invalid Stripe API base URL "${apiBase}": expected e.g. http://127.0.0.1:12111`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`Invalid Stripe API base URL "${apiBase}": protocol must be http or https`);
  }
  if (url.username !== '' || url.password !== '') {
    throw new Error(`Invalid Stripe API base URL "${apiBase}": credentials are not allowed`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new Error(`Invalid Stripe API base URL "${apiBase}": only scheme, host and port are allowed`);
  }
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  // URL keeps IPv6 literals bracketed; Node's http.request wants them bare.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port);
  return { host, port, protocol };
}

/**
 * The one place the Stripe SDK is constructed. `apiBase` (optional, from `STRIPE_API_BASE`)
 * points it at a Stripe-compatible endpoint such as the test double or stripe-mock; retries
 * and the pinned API version stay at the SDK's defaults either way.
 */
export function createStripeClient(secretKey: string, apiBase?: string): Stripe {
  if (secretKey.trim() === '') throw new Error('Stripe secret key is empty');
  const config: Stripe.StripeConfig = { timeout: REQUEST_TIMEOUT_MS, typescript: true };
  const base = apiBase?.trim();
  if (base) Object.assign(config, parseStripeApiBase(base));
  return new Stripe(secretKey, config);
}

/** What billing services need from the application context. */
export type BillingDeps = Pick<AppContext, 'env' | 'pool' | 'log' | 'stripe'>;

/** The Stripe client, or 503 naming the variable that enables billing. */
export function requireStripe(deps: Pick<AppContext, 'stripe'>): Stripe {
  if (!deps.stripe) {
    throw new AppError('SERVICE_UNAVAILABLE', 'Billing is not configured: set STRIPE_SECRET_KEY', { variable: 'STRIPE_SECRET_KEY' });
  }
  return deps.stripe;
}

/** Runs a Stripe call for a caller; Stripe's failure becomes a 502 without its internals (logged here). */
export async function callStripe<T>(log: Logger, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof Stripe.errors.StripeError)) throw err;
    log.warn({ stripe: { what, type: err.type, code: err.code, status: err.statusCode, requestId: err.requestId } }, 'stripe call failed');
    throw new AppError('PAYMENT_PROVIDER_ERROR', 'The payment provider could not complete the request; try again shortly');
  }
}
