// What a Host header names: the platform itself, a tenant subdomain, or a
// custom domain. Pure, so the rules are testable without a server.
import type { Env } from '../core/config.ts';
import { SLUG_RE } from '../tenants/schemas.ts';

export type HostTarget = { kind: 'platform' } | { kind: 'slug'; slug: string } | { kind: 'domain'; domain: string };

export function normaliseHost(raw: string | undefined): string {
  if (!raw) return '';
  let host = raw.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1); // IPv6 literal
  const colon = host.lastIndexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  return host.replace(/\.$/, '');
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export function classifyHost(
  rawHost: string | undefined,
  env: Pick<Env, 'BASE_DOMAIN' | 'NODE_ENV' | 'DISABLE_MULTI_TENANCY' | 'DEFAULT_TENANT_SLUG' | 'ENABLE_CUSTOM_DOMAINS'>,
): HostTarget {
  if (env.DISABLE_MULTI_TENANCY && env.DEFAULT_TENANT_SLUG) return { kind: 'slug', slug: env.DEFAULT_TENANT_SLUG };
  const host = normaliseHost(rawHost);
  if (!host || host === env.BASE_DOMAIN || host === 'localhost' || IPV4.test(host) || host.startsWith('[')) {
    return { kind: 'platform' };
  }
  const suffixes = [`.${env.BASE_DOMAIN}`];
  if (env.NODE_ENV !== 'production' && env.BASE_DOMAIN !== 'localhost') suffixes.push('.localhost');
  for (const suffix of suffixes) {
    if (host.endsWith(suffix)) {
      const label = host.slice(0, -suffix.length);
      // www.acme.<base> or an invalid label cannot be a tenant: resolve to nothing.
      return { kind: 'slug', slug: SLUG_RE.test(label) ? label : '' };
    }
  }
  return env.ENABLE_CUSTOM_DOMAINS ? { kind: 'domain', domain: host } : { kind: 'slug', slug: '' };
}

/** The subdomain hosts a tenant answers on (for CORS: its own pages may call its API). */
export function tenantHostnames(slug: string, env: Pick<Env, 'BASE_DOMAIN' | 'NODE_ENV'>): string[] {
  const hosts = [`${slug}.${env.BASE_DOMAIN}`];
  if (env.NODE_ENV !== 'production' && env.BASE_DOMAIN !== 'localhost') hosts.push(`${slug}.localhost`);
  return hosts;
}
