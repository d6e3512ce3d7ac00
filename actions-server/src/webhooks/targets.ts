// Webhook targets must not point inside the network (SSRF): a URL is checked
// when registered, and again at send time, where the connection is pinned to
// the address just checked so a DNS answer that changes in between (rebinding)
// cannot reach a private address.
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup } from 'node:dns/promises';
import { AppError } from '../core/errors.ts';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** Loopback, private, link-local, shared, documentation, multicast or reserved. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address.length <= 45 ? address : '');
    if (mapped?.[1]) return blocked.check(mapped[1], 'ipv4');
    return blocked.check(address, 'ipv6');
  }
  return true;
}

export class TargetRefused extends Error {}

/** Parses and checks a target URL (no DNS): http(s), a host, no credentials. */
export function parseTargetUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused('must be an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetRefused('must use http or https');
  if (!url.hostname) throw new TargetRefused('must name a host');
  if (url.username || url.password) throw new TargetRefused('must not carry credentials');
  return url;
}

export interface ResolvedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

/** Resolves the host and refuses internal addresses unless allowed; every answer is checked, the first is used. */
export async function resolveTarget(raw: string, allowPrivate: boolean): Promise<ResolvedTarget> {
  const url = parseTargetUrl(raw);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const literal = isIP(host);
  const answers = literal ? [{ address: host, family: literal }] : await lookup(host, { all: true, verbatim: true }).catch(() => []);
  if (answers.length === 0) throw new TargetRefused(`host ${host} does not resolve`);
  if (!allowPrivate) {
    const internal = answers.find((a) => isInternalAddress(a.address));
    if (internal) throw new TargetRefused(`host ${host} resolves to an internal address (${internal.address})`);
  }
  const first = answers[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/** A lookup for http.request that answers with the vetted address only. */
export function pinnedLookup(target: ResolvedTarget): LookupFunction {
  return (_host, opts, cb) => {
    const all = typeof opts === 'object' && opts !== null && (opts as { all?: boolean }).all;
    if (all)
      (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    else cb(null, target.address, target.family);
  };
}

/** For request validation: a refused URL is a 400 naming the field. */
export async function assertTargetAllowed(raw: string, allowPrivate: boolean, field = 'url'): Promise<void> {
  try {
    await resolveTarget(raw, allowPrivate);
  } catch (err) {
    if (!(err instanceof TargetRefused)) throw err;
    throw new AppError('VALIDATION_FAILED', `${field}: ${err.message}`, { issues: [{ path: field, message: err.message }] });
  }
}
