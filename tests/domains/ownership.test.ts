// Custom domains proven by DNS, against a real DNS server in this process
// (tests/support/dns-server.ts) that DNS_SERVERS points at: the check on
// request, the pending re-check with backoff, the daily re-check with grace,
// the platform admin's manual verification, the proxy's allowed-domains
// question, and resolution that follows verification (caches notified).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makePlatformAdmin, makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { auditRows } from '../audit/helpers.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { loadConfig } from '../../actions-server/src/core/config.ts';
import { customDomainProblem } from '../../actions-server/src/domains/policy.ts';
import { checkOwnership } from '../../actions-server/src/domains/verification.ts';
import { DomainDns } from '../../actions-server/src/domains/dns.ts';
import { DOMAIN_JOBS } from '../../actions-server/src/domains/jobs.ts';
import { enqueue } from '../../actions-server/src/jobs/queue.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { updateTenant } from '../../actions-server/src/tenants/service.ts';
import { runCli } from '../support/cli.ts';
import { until } from '../support/wait.ts';

let db: TestDb;
let dns: TestDnsServer;
let srv: RunningServer;
let ops: string;
/** Tenants made in parallel up front (password hashing dominates their cost). */
const owners: Record<string, Owner> = {};

const [checkPending, recheckVerified] = DOMAIN_JOBS as [(typeof DOMAIN_JOBS)[number], (typeof DOMAIN_JOBS)[number]];
const runJob = (job: (typeof DOMAIN_JOBS)[number]) => job.run({}, srv.ctx, undefined as never);

async function login(host: string, email: string, password: string): Promise<string> {
  const res = await request(srv.url, '/api/auth/login', { host, body: { email, password } });
  expect(res.status, res.text).toBe(200);
  return res.body.token;
}

/** Resolution caches are invalidated through NOTIFY: poll briefly for the new state. */
const eventually = (check: () => Promise<boolean>) => until('the host to answer as expected', check, { timeout: 2_000 });

const hostStatus = async (host: string) => (await request(srv.url, '/api/health', { host })).status;
const allowed = async (domain: string) =>
  (await request(srv.url, `/api/internal/domains/allowed?domain=${encodeURIComponent(domain)}`)).status;

interface Owner {
  made: MadeTenant;
  token: string;
  host: string;
}

async function owner(slug: string): Promise<Owner> {
  const made = await makeTenant(db, slug, { plan: 'enterprise', trial: true, isolation: 'pooled' });
  const host = `${slug}.saas.test`;
  return { made, host, token: await login(host, made.ownerEmail, OWNER_PASSWORD) };
}

async function setDomain(o: Owner, domain: string | null) {
  return request(srv.url, `/api/tenants/${o.made.tenant.id}`, {
    method: 'PUT',
    host: o.host,
    token: o.token,
    body: { customDomain: domain },
  });
}

const verify = (o: Owner) =>
  request(srv.url, `/api/tenants/${o.made.tenant.id}/domain/verify`, { method: 'POST', host: o.host, token: o.token });

async function row(tenantId: string) {
  const { rows } = await db.pool.query('select * from public.custom_domain_verifications where tenant_id = $1', [tenantId]);
  return rows[0];
}

/** Moves a row's times back, as the passing of time would. */
async function age(tenantId: string, set: string): Promise<void> {
  await db.pool.query(`update public.custom_domain_verifications set ${set} where tenant_id = $1`, [tenantId]);
}

beforeAll(async () => {
  db = await createTestDb();
  dns = await startDnsServer();
  srv = await startTestServer(db, { DNS_SERVERS: dns.address, DNS_TIMEOUT_MS: '300', DNS_TRIES: '1', DOMAIN_RECHECK_GRACE_HOURS: '72' });
  const admin = await makePlatformAdmin(db);
  ops = await login('saas.test', admin.email, admin.password);
  await Promise.all(['refused', 'acme', 'beta', 'gamma', 'delta'].map(async (slug) => (owners[slug] = await owner(slug))));
});
afterAll(async () => {
  await srv?.close();
  await dns?.close();
  await db?.close();
});

describe('configuration', () => {
  const base = { NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(40) };
  it('reads the seeds’ names as aliases', () => {
    expect(loadConfig({ ...base, NEXT_PUBLIC_BASE_DOMAIN: 'nchat.app' }).BASE_DOMAIN).toBe('nchat.app');
    expect(loadConfig({ ...base, BASE_DOMAIN: 'nchat.app', NEXT_PUBLIC_BASE_DOMAIN: 'nchat.app' }).BASE_DOMAIN).toBe('nchat.app');
    expect(() => loadConfig({ ...base, BASE_DOMAIN: 'a.app', NEXT_PUBLIC_BASE_DOMAIN: 'b.app' })).toThrow(/NEXT_PUBLIC_BASE_DOMAIN/);
    expect(loadConfig({ ...base, ALLOWED_CUSTOM_DOMAINS: 'chat.acme.com, team.example.com' }).ALLOWED_CUSTOM_DOMAIN_SUFFIXES).toEqual([
      'chat.acme.com',
      'team.example.com',
    ]);
    expect(loadConfig({ ...base, ALLOWED_CUSTOM_DOMAIN_SUFFIXES: '.example.org' }).ALLOWED_CUSTOM_DOMAIN_SUFFIXES).toEqual(['example.org']);
  });

  it('takes DNS servers as setServers does, and refuses host names', () => {
    expect(loadConfig({ ...base, DNS_SERVERS: '1.1.1.1, 127.0.0.1:5353,[::1]:53,2001:db8::1' }).DNS_SERVERS).toEqual([
      '1.1.1.1',
      '127.0.0.1:5353',
      '[::1]:53',
      '2001:db8::1',
    ]);
    expect(() => loadConfig({ ...base, DNS_SERVERS: 'dns.google' })).toThrow(/DNS_SERVERS/);
    expect(() => loadConfig({ ...base, DNS_SERVERS: '127.0.0.1:99999' })).toThrow(/DNS_SERVERS/);
  });
});

describe('which domains may be claimed', () => {
  const env = loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(40), BASE_DOMAIN: 'saas.test', ALLOWED_CUSTOM_DOMAINS: 'acme.com' });
  it.each([
    ['saas.test', /under saas.test/],
    ['evil.saas.test', /under saas.test/],
    ['localhost', /not a public/],
    ['app.localhost', /not a public/],
    ['10.0.0.1', /IP address/],
    ['[::1]', /IP address/],
    ['chat.other.com', /must be under one of: acme.com/],
    ['notacme.com', /must be under one of: acme.com/],
  ])('refuses %s', (domain, why) => {
    expect(customDomainProblem(domain, env)).toMatch(why);
  });
  it('accepts a domain under an allowed suffix', () => {
    expect(customDomainProblem('chat.acme.com', env)).toBeUndefined();
    expect(customDomainProblem('acme.com', env)).toBeUndefined();
  });

  it('answers 400 naming the field, and changes nothing', async () => {
    const o = owners['refused']!;
    for (const domain of ['team.saas.test', 'app.localhost', '192.168.1.10']) {
      const res = await setDomain(o, domain);
      expect(res.status, domain).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.details.issues[0].path).toBe('customDomain');
    }
    const outside = updateTenant(
      db.pool,
      { tenantId: o.made.tenant.id, userId: o.made.ownerId },
      o.made.tenant.id,
      { name: 'Renamed', customDomain: 'x.other.com' },
      { env },
    );
    await expect(outside).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { issues: [{ path: 'customDomain' }] } });
    const { rows } = await db.pool.query('select name, custom_domain from public.tenants where id = $1', [o.made.tenant.id]);
    expect(rows[0]).toEqual({ name: 'refused Inc', custom_domain: null });
    expect(await row(o.made.tenant.id)).toBeUndefined();
  });
});

describe('verification on request', () => {
  let acme: Owner;
  let token: string;
  const record = '_saas-verify.chat.acme.com';

  beforeAll(() => {
    acme = owners['acme']!;
  });

  it('issues a token when the domain is set; the domain resolves to nothing yet', async () => {
    const res = await setDomain(acme, 'chat.acme.com');
    expect(res.status, res.text).toBe(200);
    expect(res.body.tenant.customDomainVerified).toBe(false);
    expect(res.body.domainVerification).toMatchObject({
      domain: 'chat.acme.com',
      state: 'pending',
      verified: false,
      record: { type: 'TXT', name: record },
    });
    token = res.body.domainVerification.record.value;
    expect(token).toMatch(/^[\w-]{32}$/);
    const status = await request(srv.url, `/api/tenants/${acme.made.tenant.id}/domain`, { host: acme.host, token: acme.token });
    expect(status.body.domain.record.value).toBe(token);
    expect(await hostStatus('chat.acme.com')).toBe(404);
    expect((await request(srv.url, '/api/tenants/by-domain?domain=chat.acme.com')).status).toBe(404);
    expect(await allowed('chat.acme.com')).toBe(404);
  });

  it('refuses while the record is missing (NXDOMAIN)', async () => {
    const res = await verify(acme);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'DOMAIN_NOT_VERIFIED', details: { reason: 'record_missing' } });
    expect(res.body.error.message).toContain(record);
  });

  it('refuses a record that holds another value', async () => {
    dns.zone.set(record, { txt: [['some-other-token']] });
    const res = await verify(acme);
    expect(res.status).toBe(409);
    expect(res.body.error.details.reason).toBe('token_mismatch');
  });

  it('answers 502 when DNS fails (SERVFAIL) or does not answer (timeout), without counting it as missing', async () => {
    dns.zone.set(record, { fail: 'servfail' });
    const servfail = await verify(acme);
    expect(servfail.status).toBe(502);
    expect(servfail.body.error).toMatchObject({ code: 'DNS_LOOKUP_FAILED' });
    expect(servfail.body.error.message).toContain('ESERVFAIL');
    dns.zone.set(record, { fail: 'timeout' });
    const started = Date.now();
    const timeout = await verify(acme);
    expect(timeout.status).toBe(502);
    expect(timeout.body.error.message).toContain('ETIMEOUT');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect((await row(acme.made.tenant.id)).state).toBe('pending');
  });

  it('verifies with the token among several TXT records, one split into several strings', async () => {
    dns.zone.set(record, { txt: [['v=spf1 -all'], [token.slice(0, 10), token.slice(10)]] });
    const res = await verify(acme);
    expect(res.status, res.text).toBe(200);
    expect(res.body.domain).toMatchObject({ verified: true, state: 'verified', method: 'dns' });
    await eventually(async () => (await hostStatus('chat.acme.com')) === 200);
    const health = await request(srv.url, '/api/health', { host: 'chat.acme.com' });
    expect(health.body.tenant.slug).toBe('acme');
    expect(await allowed('chat.acme.com')).toBe(200);
    expect(await allowed('CHAT.ACME.COM.')).toBe(200);
    expect(await allowed('other.acme.com')).toBe(404);
    expect((await request(srv.url, '/api/tenants/by-domain?domain=chat.acme.com')).body.tenant.slug).toBe('acme');
    // Answers on any Host (the proxy's own), before tenant resolution.
    expect((await request(srv.url, '/api/internal/domains/allowed?domain=chat.acme.com', { host: 'actions-server:3000' })).status).toBe(
      200,
    );
    expect((await request(srv.url, '/api/internal/domains/allowed')).status).toBe(400);

    const trail = (await auditRows(db.pool, acme.made.tenant.id)).filter((r) => r.entity_type === 'custom_domain');
    expect(trail.map((r) => r.action)).toEqual(['custom_domain.token_issued', 'custom_domain.verified_by_dns']);
    expect(trail[1]).toMatchObject({
      actor_kind: 'user',
      actor_id: acme.made.ownerId,
      new_values: { domain: 'chat.acme.com', method: 'dns' },
    });
    expect(JSON.stringify(trail)).not.toContain(token);
  });

  it('re-checks daily: a record gone is noted, a DNS failure is not, and past the grace the domain is unverified', async () => {
    const id = acme.made.tenant.id;
    // Present: nothing changes but the check time.
    await age(id, `last_checked_at = now() - interval '2 days'`);
    await runJob(recheckVerified);
    expect(await row(id)).toMatchObject({ state: 'verified', missing_since: null, last_result: 'verified' });

    // Removed after verification.
    dns.zone.delete(record);
    await age(id, `last_checked_at = now() - interval '2 days'`);
    await runJob(recheckVerified);
    const noted = await row(id);
    expect(noted).toMatchObject({ state: 'verified', last_result: 'record_missing' });
    expect(noted.missing_since).not.toBeNull();
    expect(await hostStatus('chat.acme.com')).toBe(200);

    // A rerun the same day checks nothing.
    const asked = dns.queries.length;
    await runJob(recheckVerified);
    expect(dns.queries.length).toBe(asked);

    // Our resolver failing says nothing about the record.
    dns.zone.set(record, { fail: 'servfail' });
    await age(id, `last_checked_at = now() - interval '2 days', missing_since = now() - interval '4 days'`);
    const before = (await row(id)).missing_since;
    await runJob(recheckVerified);
    expect(await row(id)).toMatchObject({ state: 'verified', last_result: 'dns_unavailable', missing_since: before });

    // Gone longer than the grace: unverified, audited, every cache told.
    dns.zone.delete(record);
    await age(id, `last_checked_at = now() - interval '2 days'`);
    await runJob(recheckVerified);
    expect(await row(id)).toMatchObject({ state: 'pending', verified_at: null, missing_since: null, token });
    const { rows } = await db.pool.query('select custom_domain, custom_domain_verified_at from public.tenants where id = $1', [id]);
    expect(rows[0]).toEqual({ custom_domain: 'chat.acme.com', custom_domain_verified_at: null });
    await eventually(async () => (await hostStatus('chat.acme.com')) === 404);
    expect(await allowed('chat.acme.com')).toBe(404);
    const actions = (await auditRows(db.pool, id)).filter((r) => r.entity_type === 'custom_domain').map((r) => [r.action, r.actor_kind]);
    expect(actions.slice(-2)).toEqual([
      ['custom_domain.record_missing', 'cron'],
      ['custom_domain.unverified', 'cron'],
    ]);

    // Publishing the same token again restores it.
    dns.zone.set(record, { txt: [[token]] });
    expect((await verify(acme)).status).toBe(200);
    await eventually(async () => (await hostStatus('chat.acme.com')) === 200);
  });

  it('a new domain needs a new proof; removing it removes the proof', async () => {
    const res = await setDomain(acme, 'team.acme.com');
    expect(res.body.tenant.customDomainVerified).toBe(false);
    expect(res.body.domainVerification.record).toMatchObject({ name: '_saas-verify.team.acme.com' });
    expect(res.body.domainVerification.record.value).not.toBe(token);
    await eventually(async () => (await hostStatus('chat.acme.com')) === 404);
    const cleared = await setDomain(acme, null);
    expect(cleared.body.tenant.customDomain).toBeNull();
    expect(await row(acme.made.tenant.id)).toBeUndefined();
    expect((await verify(acme)).status).toBe(404);
  });
});

describe('the re-check job', () => {
  it('checks pending domains when due, backs off, and verifies once the record appears', async () => {
    const beta = owners['beta']!;
    const res = await setDomain(beta, 'chat.beta.org');
    const token: string = res.body.domainVerification.record.value;
    const id = beta.made.tenant.id;

    // Not due yet (the first check is a minute after the token): nothing asked.
    const asked = dns.queries.length;
    await runJob(checkPending);
    expect(dns.queries.length).toBe(asked);

    await age(id, `next_check_at = now() - interval '1 second'`);
    await runJob(checkPending);
    const first = await row(id);
    expect(first).toMatchObject({ state: 'pending', attempts: 1, last_result: 'record_missing' });
    const { rows } = await db.pool.query<{ wait: number }>(
      `select extract(epoch from next_check_at - last_checked_at)::int as wait from public.custom_domain_verifications where tenant_id = $1`,
      [id],
    );
    expect(rows[0]!.wait).toBe(120);

    await age(id, `next_check_at = now() - interval '1 second'`);
    await runJob(checkPending);
    const { rows: second } = await db.pool.query<{ wait: number; attempts: number }>(
      `select attempts, extract(epoch from next_check_at - last_checked_at)::int as wait from public.custom_domain_verifications where tenant_id = $1`,
      [id],
    );
    expect(second[0]).toEqual({ attempts: 2, wait: 240 });

    // Through the job runner this time: enqueued, run by graphile-worker.
    dns.zone.set('_saas-verify.chat.beta.org', { txt: [[token]] });
    await age(id, `next_check_at = now() - interval '1 second'`);
    await enqueue(db.pool, 'domains.check-pending', {});
    await runDueJobs(srv.ctx, DOMAIN_JOBS);
    expect(await row(id)).toMatchObject({ state: 'verified', method: 'dns' });
    await eventually(async () => (await hostStatus('chat.beta.org')) === 200);
    const verified = (await auditRows(db.pool, id)).find((r) => r.action === 'custom_domain.verified_by_dns');
    expect(verified).toMatchObject({ actor_kind: 'cron', new_values: { method: 'dns' } });
  });

  it('stops after the verification window; the tenant may still ask', async () => {
    const gamma = owners['gamma']!;
    const res = await setDomain(gamma, 'chat.gamma.net');
    const token: string = res.body.domainVerification.record.value;
    const id = gamma.made.tenant.id;
    await age(id, `next_check_at = now() - interval '1 second', expires_at = now() - interval '1 second'`);
    await runJob(checkPending);
    expect(await row(id)).toMatchObject({ state: 'expired', next_check_at: null });
    expect((await auditRows(db.pool, id)).map((r) => r.action)).toContain('custom_domain.verification_expired');

    const asked = dns.queries.length;
    await runJob(checkPending);
    expect(dns.queries.length).toBe(asked);

    dns.zone.set('_saas-verify.chat.gamma.net', { txt: [[token]] });
    expect((await verify(gamma)).status).toBe(200);
  });
});

describe('manual verification by a platform admin', () => {
  it('stays, is audited as manual, and is not re-checked against DNS', async () => {
    const delta = owners['delta']!;
    await setDomain(delta, 'chat.delta.io');
    const id = delta.made.tenant.id;
    const res = await request(srv.url, `/api/tenants/${id}/verify-domain`, { method: 'POST', host: 'saas.test', token: ops });
    expect(res.status, res.text).toBe(200);
    expect(res.body.tenant.customDomainVerified).toBe(true);
    expect(await row(id)).toMatchObject({ state: 'verified', method: 'manual' });
    const manual = (await auditRows(db.pool, id)).find((r) => r.action === 'custom_domain.verified_manually');
    expect(manual).toMatchObject({ new_values: { domain: 'chat.delta.io', method: 'manual' } });
    expect(manual!.actor_id).not.toBeNull();

    await age(id, `last_checked_at = now() - interval '5 days'`);
    await runJob(recheckVerified);
    expect(await row(id)).toMatchObject({ state: 'verified', method: 'manual' });
    await eventually(async () => (await hostStatus('chat.delta.io')) === 200);
    // A tenant's member cannot do it.
    expect(
      (await request(srv.url, `/api/tenants/${id}/verify-domain`, { method: 'POST', host: delta.host, token: delta.token })).status,
    ).toBe(403);
  });
});

describe('the CNAME to CUSTOM_DOMAIN_TARGET, when required', () => {
  it('needs the domain to point at the target (or share its address), besides the TXT record', async () => {
    const env = { ...srv.ctx.env, CUSTOM_DOMAIN_TARGET: 'edge.saas-cdn.net' };
    const client = new DomainDns(env);
    dns.zone.set('edge.saas-cdn.net', { a: ['203.0.113.7'] });
    for (const name of ['www.cname.example', 'apex.example', 'elsewhere.example', 'nowhere.example']) {
      dns.zone.set(`_saas-verify.${name}`, { txt: [['tok']] });
    }
    dns.zone.set('www.cname.example', { cname: 'edge.saas-cdn.net.' });
    dns.zone.set('apex.example', { a: ['203.0.113.7'] });
    dns.zone.set('elsewhere.example', { cname: 'other-host.example' });
    expect(await checkOwnership(client, env, 'www.cname.example', 'tok')).toEqual({ ok: true });
    expect(await checkOwnership(client, env, 'apex.example', 'tok')).toEqual({ ok: true });
    expect(await checkOwnership(client, env, 'elsewhere.example', 'tok')).toEqual({ ok: false, reason: 'cname_mismatch' });
    expect(await checkOwnership(client, env, 'nowhere.example', 'tok')).toEqual({ ok: false, reason: 'cname_mismatch' });
    // The TXT record is checked first.
    expect(await checkOwnership(client, env, 'www.cname.example', 'other')).toEqual({ ok: false, reason: 'token_mismatch' });
  });
});

describe('the domains CLI', () => {
  // One subprocess only: starting the CLI costs seconds.
  it("checks a tenant's domain now and exits 1 with the reason when it is not verified", async () => {
    await setDomain(owners['refused']!, 'cli.refused.dev');
    const missing = await runCli(db, ['domains', 'check', 'refused'], { DNS_SERVERS: dns.address, DNS_TIMEOUT_MS: '300', DNS_TRIES: '1' });
    expect(missing.code, missing.stderr).toBe(1);
    expect(missing.stderr).toContain('cli.refused.dev is not verified: no TXT record _saas-verify.cli.refused.dev was found');
  });
});
