// Which names a tenant may claim as its custom domain. Pure, so every entry
// point (REST, Hasura action, CLI) applies the same rules.
import { isIP } from 'node:net';
import type { Env } from '../core/config.ts';
import { AppError } from '../core/errors.ts';

export type DomainPolicyEnv = Pick<Env, 'BASE_DOMAIN' | 'ALLOWED_CUSTOM_DOMAIN_SUFFIXES'>;

// Names that never reach a public resolver, so no certificate could be issued for them.
const SPECIAL_USE = ['localhost', 'local', 'internal', 'invalid', 'arpa'];

/** `name` is `suffix` or a name under it. */
export function isUnder(name: string, suffix: string): boolean {
  return name === suffix || name.endsWith(`.${suffix}`);
}

/** Why `domain` cannot be a custom domain, or undefined when it can. */
export function customDomainProblem(domain: string, env: DomainPolicyEnv): string | undefined {
  const name = domain.trim().toLowerCase().replace(/\.$/, '');
  if (isIP(name.replace(/^\[|\]$/g, '')) !== 0) return 'an IP address cannot be a custom domain';
  if (SPECIAL_USE.some((s) => isUnder(name, s))) return `${name} is not a public domain name`;
  if (env.BASE_DOMAIN && isUnder(name, env.BASE_DOMAIN)) {
    return `a custom domain cannot be under ${env.BASE_DOMAIN}; subdomains of the platform are automatic`;
  }
  const allowed = env.ALLOWED_CUSTOM_DOMAIN_SUFFIXES;
  if (allowed.length > 0 && !allowed.some((s) => isUnder(name, s))) {
    return `custom domains must be under one of: ${allowed.join(', ')}`;
  }
  return undefined;
}

/** 400 naming the field when the domain is refused. */
export function assertCustomDomainAllowed(domain: string, env: DomainPolicyEnv, field = 'customDomain'): void {
  const problem = customDomainProblem(domain, env);
  if (problem)
    throw new AppError('VALIDATION_FAILED', `Invalid request: ${field}: ${problem}`, { issues: [{ path: field, message: problem }] });
}
