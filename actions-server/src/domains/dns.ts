// DNS lookups for ownership checks through node:dns with our own resolvers
// (DNS_SERVERS) and a timeout. Answers are sorted into what they mean for a
// check: records found, a definite "no such record", or a failure to ask
// (timeout, SERVFAIL, refused), which must never count as "gone".
import { Resolver } from 'node:dns/promises';
import type { Env } from '../core/config.ts';

export type Lookup<T> = { kind: 'found'; values: T[] } | { kind: 'missing'; code: string } | { kind: 'failed'; code: string };

// NXDOMAIN, and a name that exists without records of the type asked for.
const MISSING = new Set(['ENOTFOUND', 'ENODATA']);

export type DnsEnv = Pick<Env, 'DNS_SERVERS' | 'DNS_TIMEOUT_MS' | 'DNS_TRIES'>;

export class DomainDns {
  private readonly resolver: Resolver;

  constructor(env: DnsEnv) {
    this.resolver = new Resolver({ timeout: env.DNS_TIMEOUT_MS, tries: env.DNS_TRIES });
    if (env.DNS_SERVERS.length > 0) this.resolver.setServers(env.DNS_SERVERS);
  }

  /** TXT records of `name`, each record's strings joined (long values are split into 255-byte strings). */
  txt(name: string): Promise<Lookup<string>> {
    return this.ask(
      () => this.resolver.resolveTxt(name),
      (chunks) => chunks.join(''),
    );
  }

  cname(name: string): Promise<Lookup<string>> {
    return this.ask(() => this.resolver.resolveCname(name), normaliseName);
  }

  ipv4(name: string): Promise<Lookup<string>> {
    return this.ask(
      () => this.resolver.resolve4(name),
      (a) => a,
    );
  }

  private async ask<R, T>(query: () => Promise<R[]>, map: (r: R) => T): Promise<Lookup<T>> {
    try {
      const values = (await query()).map(map);
      return values.length > 0 ? { kind: 'found', values } : { kind: 'missing', code: 'ENODATA' };
    } catch (err) {
      const code = typeof (err as { code?: unknown }).code === 'string' ? (err as { code: string }).code : 'EUNKNOWN';
      return MISSING.has(code) ? { kind: 'missing', code } : { kind: 'failed', code };
    }
  }
}

export function normaliseName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}
