// `entitlements ...`: what plans include and a tenant's own overrides, set the
// way platform admins set them over REST (same service, audited, actor `cli`).
import type { Command } from 'commander';
import { getTenantEntitlements, setPlanEntitlements, setTenantEntitlements } from '../entitlements/service.ts';
import { printJson, UsageError, withRuntime, withTenant, cliActor } from './runtime.ts';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `name=on|off` (and `default` for a tenant: remove the override) into a features object. */
function featureFlags(pairs: string[], allowDefault: boolean): Record<string, boolean | null> {
  const out: Record<string, boolean | null> = {};
  for (const pair of pairs) {
    const [name, value, ...rest] = pair.length <= 80 ? pair.split('=') : [];
    const parsed = value === 'on' ? true : value === 'off' ? false : value === 'default' && allowDefault ? null : undefined;
    if (!name || rest.length || parsed === undefined) {
      throw new UsageError(`--feature expects name=on|off${allowDefault ? '|default' : ''}, got "${pair.slice(0, 80)}"`);
    }
    out[name] = parsed;
  }
  return out;
}

/** `key=number` (-1 = unlimited; `default` for a tenant) into a limits object. */
function limitValues(pairs: string[], allowDefault: boolean): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const pair of pairs) {
    const [key, value, ...rest] = pair.length <= 80 ? pair.split('=') : [];
    const parsed =
      value === 'default' && allowDefault ? null : value !== undefined && /^-?\d{1,18}$/.test(value) ? Number(value) : undefined;
    if (!key || rest.length || parsed === undefined) {
      throw new UsageError(`--limit expects key=number${allowDefault ? '|default' : ''}, got "${pair.slice(0, 80)}"`);
    }
    out[key] = parsed;
  }
  return out;
}

function body(features: Record<string, unknown>, limits: Record<string, unknown>): Record<string, unknown> {
  const out = { ...(Object.keys(features).length ? { features } : {}), ...(Object.keys(limits).length ? { limits } : {}) };
  if (!Object.keys(out).length) throw new UsageError('give at least one --feature or --limit');
  return out;
}

export function register(program: Command): void {
  const ent = program.command('entitlements').description("plan features and limits, and tenants' overrides");

  ent
    .command('show')
    .description("a tenant's effective features and limits, with its overrides")
    .argument('<slug>')
    .action((slug: string) =>
      withTenant(slug, async (rt, id) => {
        printJson(await getTenantEntitlements(rt.db.pool, id, { userId: '', platformAdmin: true }));
      }),
    );

  ent
    .command('plan')
    .description("set a plan's features and limits")
    .argument('<plan>')
    .option('--feature <name=on|off>', 'repeatable', collect, [])
    .option('--limit <key=number>', 'repeatable; -1 = unlimited', collect, [])
    .action((plan: string, opts: { feature: string[]; limit: string[] }) => {
      const input = body(featureFlags(opts.feature, false), limitValues(opts.limit, false));
      return withRuntime(async ({ db }) => {
        printJson(await setPlanEntitlements(db.pool, plan, input, cliActor));
      });
    });

  ent
    .command('tenant')
    .description("set or remove (default) a tenant's feature and limit overrides")
    .argument('<slug>')
    .option('--feature <name=on|off|default>', 'repeatable', collect, [])
    .option('--limit <key=number|default>', 'repeatable; -1 = unlimited', collect, [])
    .action((slug: string, opts: { feature: string[]; limit: string[] }) => {
      const input = body(featureFlags(opts.feature, true), limitValues(opts.limit, true));
      return withTenant(slug, async (rt, id) => {
        printJson(await setTenantEntitlements(rt.db.pool, id, input, cliActor));
      });
    });
}
