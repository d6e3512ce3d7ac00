// Ownership of a custom domain, proven by DNS. Setting a domain issues a token;
// the tenant publishes it as TXT <prefix>.<domain> (and, when the platform asks
// for it, points the domain at CUSTOM_DOMAIN_TARGET). A check on request or a
// re-check with backoff (for DOMAIN_VERIFICATION_WINDOW_DAYS) verifies it; a daily
// re-check unverifies a domain whose record has been gone longer than the grace.
// public.tenants.custom_domain_verified_at stays the one flag resolution reads:
// changing it NOTIFYs every process's resolution cache (tg_tenants__notify).
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type { Env } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import { asSystem, type Client, type Pool } from '../db/tx.ts';
import type { Actor } from '../core/actor.ts';
import { DomainDns, type DnsEnv } from './dns.ts';
import type { domainStatusSchema } from './schemas.ts';

export type VerificationEnv = DnsEnv &
  Pick<Env, 'DOMAIN_VERIFICATION_PREFIX' | 'CUSTOM_DOMAIN_TARGET' | 'DOMAIN_VERIFICATION_WINDOW_DAYS' | 'DOMAIN_RECHECK_GRACE_HOURS'>;

export interface DomainDeps {
  pool: Pool;
  env: VerificationEnv;
  log: Logger;
}

export type FailureReason = 'record_missing' | 'token_mismatch' | 'cname_mismatch' | 'dns_unavailable';
export type CheckResult = { ok: true } | { ok: false; reason: FailureReason; code?: string };

type State = DomainStatus['state'];

interface Row {
  tenant_id: string;
  domain: string;
  token: string;
  state: State;
  method: 'dns' | 'manual' | null;
  attempts: number;
  next_check_at: Date | null;
  expires_at: Date;
  last_checked_at: Date | null;
  last_result: string | null;
  missing_since: Date | null;
  verified_at: Date | null;
}

export type DomainStatus = z.infer<typeof domainStatusSchema>;

/** First automatic check a minute after the token is issued, then doubling up to six hours. */
const FIRST_CHECK_SECONDS = 60;
const MAX_BACKOFF_SECONDS = 6 * 3600;
export const backoffSeconds = (attempts: number): number =>
  Math.min(FIRST_CHECK_SECONDS * 2 ** Math.min(attempts, 20), MAX_BACKOFF_SECONDS);

/** Verified domains are re-checked when their last check is older than this (the daily job; a rerun the same day skips them). */
const RECHECK_AFTER = '20 hours';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function recordName(env: Pick<Env, 'DOMAIN_VERIFICATION_PREFIX'>, domain: string): string {
  return `${env.DOMAIN_VERIFICATION_PREFIX}.${domain}`;
}

function toStatus(row: Row, env: VerificationEnv): DomainStatus {
  return {
    domain: row.domain,
    state: row.state,
    verified: row.state === 'verified',
    method: row.method,
    record: { type: 'TXT', name: recordName(env, row.domain), value: row.token },
    cname: env.CUSTOM_DOMAIN_TARGET ? { name: row.domain, target: env.CUSTOM_DOMAIN_TARGET } : null,
    lastCheckedAt: iso(row.last_checked_at),
    lastResult: row.last_result,
    nextCheckAt: iso(row.next_check_at),
    expiresAt: row.state === 'pending' ? iso(row.expires_at) : null,
    missingSince: iso(row.missing_since),
    verifiedAt: iso(row.verified_at),
  };
}

async function audit(client: Client, tenantId: string, action: string, domain: string, values: Record<string, unknown>): Promise<void> {
  await client.query(`select public.audit_append($1, $2, 'custom_domain', $3, null, $4::jsonb)`, [
    tenantId,
    `custom_domain.${action}`,
    domain,
    JSON.stringify({ domain, ...values }),
  ]);
}

/**
 * In the transaction that sets a tenant's custom domain: a new token and a fresh
 * pending check for a new domain, nothing for the same one, no row for none.
 */
export async function issueDomainToken(client: Client, tenantId: string, domain: string | null, env: VerificationEnv): Promise<void> {
  if (domain === null) {
    await client.query('delete from public.custom_domain_verifications where tenant_id = $1', [tenantId]);
    return;
  }
  const { rowCount } = await client.query(
    `insert into public.custom_domain_verifications as v (tenant_id, domain, token, state, next_check_at, expires_at)
     values ($1, $2, $3, 'pending', now() + make_interval(secs => $4), now() + make_interval(days => $5))
     on conflict (tenant_id) do update
       set domain = excluded.domain, token = excluded.token, state = 'pending', method = null, attempts = 0,
           next_check_at = excluded.next_check_at, expires_at = excluded.expires_at,
           last_checked_at = null, last_result = null, missing_since = null, verified_at = null
       where v.domain is distinct from excluded.domain`,
    [tenantId, domain, randomBytes(24).toString('base64url'), FIRST_CHECK_SECONDS, env.DOMAIN_VERIFICATION_WINDOW_DAYS],
  );
  if (rowCount) await audit(client, tenantId, 'token_issued', domain, { record: recordName(env, domain) });
}

/** In the transaction of a platform admin's manual verification: recorded (and audited) as manual. */
export async function recordManualVerification(client: Client, tenantId: string, domain: string): Promise<void> {
  await client.query(
    `insert into public.custom_domain_verifications as v (tenant_id, domain, token, state, method, verified_at, expires_at)
     values ($1, $2, $3, 'verified', 'manual', now(), now())
     on conflict (tenant_id) do update
       set domain = excluded.domain, state = 'verified', method = 'manual', verified_at = now(),
           next_check_at = null, missing_since = null,
           token = case when v.domain = excluded.domain then v.token else excluded.token end`,
    [tenantId, domain, randomBytes(24).toString('base64url')],
  );
  await audit(client, tenantId, 'verified_manually', domain, { method: 'manual' });
}

/** Asks DNS whether `domain` carries `token` (and points at the target when one is required). */
export async function checkOwnership(dns: DomainDns, env: VerificationEnv, domain: string, token: string): Promise<CheckResult> {
  const txt = await dns.txt(recordName(env, domain));
  if (txt.kind === 'failed') return { ok: false, reason: 'dns_unavailable', code: txt.code };
  if (txt.kind === 'missing') return { ok: false, reason: 'record_missing', code: txt.code };
  if (!txt.values.some((v) => v.trim() === token)) return { ok: false, reason: 'token_mismatch' };
  const target = env.CUSTOM_DOMAIN_TARGET;
  if (!target) return { ok: true };
  const cname = await dns.cname(domain);
  if (cname.kind === 'failed') return { ok: false, reason: 'dns_unavailable', code: cname.code };
  if (cname.kind === 'found') return cname.values.includes(target) ? { ok: true } : { ok: false, reason: 'cname_mismatch' };
  // No CNAME (an apex with a flattened ALIAS record): the domain must share an address with the target.
  const [mine, theirs] = await Promise.all([dns.ipv4(domain), dns.ipv4(target)]);
  if (mine.kind === 'failed' || theirs.kind === 'failed') return { ok: false, reason: 'dns_unavailable' };
  const targetAddresses = new Set(theirs.kind === 'found' ? theirs.values : []);
  return mine.kind === 'found' && mine.values.some((a) => targetAddresses.has(a)) ? { ok: true } : { ok: false, reason: 'cname_mismatch' };
}

/**
 * Records one check's result, under the row's lock, if the row still holds the
 * domain and token that were checked (a domain changed meanwhile makes it stale).
 */
async function settle(
  deps: DomainDeps,
  checked: Pick<Row, 'tenant_id' | 'domain' | 'token'>,
  result: CheckResult,
  actor: Actor,
): Promise<Row | undefined> {
  const { env } = deps;
  return asSystem(
    deps.pool,
    async (client) => {
      const row = (
        await client.query<Row>('select * from public.custom_domain_verifications where tenant_id = $1 for update', [checked.tenant_id])
      ).rows[0];
      if (!row || row.domain !== checked.domain || row.token !== checked.token) return undefined;
      const lastResult = result.ok ? 'verified' : result.reason;
      const update = async (set: string | null, params: unknown[] = []): Promise<Row> =>
        (
          await client.query<Row>(
            `update public.custom_domain_verifications
                set last_checked_at = now(), last_result = $2${set ? `, ${set}` : ''}
              where tenant_id = $1 returning *`,
            [row.tenant_id, lastResult, ...params],
          )
        ).rows[0]!;

      if (row.state === 'verified') {
        if (result.ok) return update('missing_since = null');
        // Our resolver failing proves nothing about the record: wait for a real answer.
        if (result.reason === 'dns_unavailable') return update(null);
        const after = await update('missing_since = coalesce(missing_since, now())');
        if (row.missing_since === null) await audit(client, row.tenant_id, 'record_missing', row.domain, { reason: result.reason });
        const expired = (
          await client.query<{ gone: boolean }>(`select $1::timestamptz <= now() - make_interval(hours => $2) as gone`, [
            after.missing_since,
            env.DOMAIN_RECHECK_GRACE_HOURS,
          ])
        ).rows[0]!.gone;
        if (!expired) return after;
        // Unverified: back to pending with the same token, so republishing the record restores it.
        const back = (
          await client.query<Row>(
            `update public.custom_domain_verifications
                set state = 'pending', method = null, verified_at = null, missing_since = null, attempts = 0,
                    next_check_at = now() + make_interval(secs => $2), expires_at = now() + make_interval(days => $3)
              where tenant_id = $1 returning *`,
            [row.tenant_id, FIRST_CHECK_SECONDS, env.DOMAIN_VERIFICATION_WINDOW_DAYS],
          )
        ).rows[0]!;
        await client.query('update public.tenants set custom_domain_verified_at = null where id = $1 and custom_domain = $2', [
          row.tenant_id,
          row.domain,
        ]);
        await audit(client, row.tenant_id, 'unverified', row.domain, { reason: result.reason, missingSince: iso(after.missing_since) });
        return back;
      }

      if (result.ok) {
        const verified = await update(
          `attempts = attempts + 1, state = 'verified', method = 'dns', verified_at = now(), next_check_at = null, missing_since = null`,
        );
        await client.query('update public.tenants set custom_domain_verified_at = now() where id = $1 and custom_domain = $2', [
          row.tenant_id,
          row.domain,
        ]);
        await audit(client, row.tenant_id, 'verified_by_dns', row.domain, { method: 'dns' });
        return verified;
      }
      if (row.state === 'expired') return update(null);
      const after = await update(
        `attempts = attempts + 1,
         next_check_at = case when now() < expires_at then least(now() + make_interval(secs => $3), expires_at) end,
         state = case when now() < expires_at then 'pending' else 'expired' end`,
        [backoffSeconds(row.attempts + 1)],
      );
      if (after.state === 'expired') await audit(client, row.tenant_id, 'verification_expired', row.domain, { lastResult });
      return after;
    },
    actor,
  );
}

/** The tenant's current row, issuing a token first when its domain has none yet (set before proofs existed). */
async function currentRow(deps: DomainDeps, tenantId: string): Promise<Row> {
  const find = async (): Promise<{ domain: string | null; row: Row | undefined }> => {
    const { rows } = await deps.pool.query<Row & { custom_domain: string | null }>(
      `select t.custom_domain, v.* from public.tenants t
         left join public.custom_domain_verifications v on v.tenant_id = t.id and v.domain = t.custom_domain
        where t.id = $1`,
      [tenantId],
    );
    const r = rows[0];
    if (!r) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
    return { domain: r.custom_domain, row: r.domain ? r : undefined };
  };
  let found = await find();
  if (!found.domain)
    throw new AppError('NOT_FOUND', 'This tenant has no custom domain; set one with PUT /api/tenants/:id {"customDomain": …}');
  if (!found.row) {
    const domain = found.domain;
    await asSystem(deps.pool, (client) => issueDomainToken(client, tenantId, domain, deps.env));
    found = await find();
  }
  return found.row!;
}

export async function domainStatus(deps: DomainDeps, tenantId: string): Promise<DomainStatus> {
  return toStatus(await currentRow(deps, tenantId), deps.env);
}

/** POST /api/tenants/:id/domain/verify: checks now; the status when verified, else an error saying what DNS showed. */
export async function verifyDomainNow(deps: DomainDeps, tenantId: string, actor: Actor): Promise<DomainStatus> {
  const row = await currentRow(deps, tenantId);
  if (row.state === 'verified') return toStatus(row, deps.env);
  const result = await checkOwnership(new DomainDns(deps.env), deps.env, row.domain, row.token);
  const after = (await settle(deps, row, result, actor)) ?? row;
  deps.log.info({ tenantId, domain: row.domain, result: result.ok ? 'verified' : result.reason }, 'custom domain checked on request');
  if (result.ok) return toStatus(after, deps.env);
  const status = toStatus(after, deps.env);
  if (result.reason === 'dns_unavailable') {
    throw new AppError('DNS_LOOKUP_FAILED', `DNS did not answer for ${status.record.name} (${result.code ?? 'error'}); try again shortly`, {
      status,
    });
  }
  const why: Record<Exclude<FailureReason, 'dns_unavailable'>, string> = {
    record_missing: `no TXT record ${status.record.name} was found`,
    token_mismatch: `the TXT record ${status.record.name} does not hold this domain's token`,
    cname_mismatch: `${row.domain} does not point at ${deps.env.CUSTOM_DOMAIN_TARGET} (CNAME)`,
  };
  throw new AppError('DOMAIN_NOT_VERIFIED', `${row.domain} is not verified: ${why[result.reason]}`, { reason: result.reason, status });
}

/** Runs fn over items, at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

async function checkClaimed(deps: DomainDeps, rows: Row[], what: string): Promise<number> {
  const dns = new DomainDns(deps.env);
  await eachLimited(rows, 8, async (row) => {
    try {
      const result = await checkOwnership(dns, deps.env, row.domain, row.token);
      const after = await settle(deps, row, result, { kind: 'cron' });
      deps.log.info(
        { tenantId: row.tenant_id, domain: row.domain, result: result.ok ? 'verified' : result.reason, state: after?.state },
        what,
      );
    } catch (err) {
      deps.log.warn({ tenantId: row.tenant_id, domain: row.domain, err: (err as Error).message }, `${what} failed`);
    }
  });
  return rows.length;
}

/**
 * The pending domains whose next check is due, claimed (their next check moved
 * ahead) so that concurrent workers take different rows, then checked.
 */
export async function checkPendingDomains(deps: DomainDeps, batch = 100): Promise<number> {
  const { rows } = await deps.pool.query<Row>(
    `with due as (
       select tenant_id from public.custom_domain_verifications
        where state = 'pending' and next_check_at <= now()
        order by next_check_at limit $1 for update skip locked)
     update public.custom_domain_verifications v set next_check_at = now() + interval '10 minutes'
       from due where v.tenant_id = due.tenant_id
     returning v.*`,
    [batch],
  );
  return checkClaimed(deps, rows, 'pending custom domain checked');
}

/** Daily: every domain verified by DNS whose last check is older than a day is checked again. Manual verifications are not. */
export async function recheckVerifiedDomains(deps: DomainDeps, batch = 100): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await deps.pool.query<Row>(
      `with due as (
         select tenant_id from public.custom_domain_verifications
          where state = 'verified' and method = 'dns'
            and (last_checked_at is null or last_checked_at <= now() - interval '${RECHECK_AFTER}')
          order by last_checked_at nulls first limit $1 for update skip locked)
       update public.custom_domain_verifications v set last_checked_at = now()
         from due where v.tenant_id = due.tenant_id
       returning v.*`,
      [batch],
    );
    if (rows.length === 0) return total;
    total += await checkClaimed(deps, rows, 'verified custom domain re-checked');
  }
}
