// The access cache (auth/access.ts): memberships, platform-admin flags,
// sessions and API keys are answered from process memory, and a change made
// anywhere (here: plain SQL from another connection, so only the database's
// NOTIFY can tell the server) ends access within 1 s on REST and the auth
// webhook. A lost LISTEN connection turns the cache off until it is back, so a
// change nobody notified is still seen. Every "within 1 s" is a poll, never a sleep.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { useTestServer, withoutTriggers } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { makePerson, sessionToken } from '../support/people.ts';

let acme: MadeTenant;

const ACME = 'acme.saas.test';
const WITHIN_1S = { timeout: 1000, interval: 20 };

const fx = useTestServer();
beforeAll(async () => {
  acme = await makeTenant(fx.db, 'acme', { plan: 'enterprise', trial: true });
});

const hook = (token: string) =>
  request<Record<string, string>>(fx.srv.url, '/hasura/auth', { body: { headers: { host: ACME, authorization: `Bearer ${token}` } } });
const rest = (token: string) => request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, { host: ACME, token });

/** Runs SQL with triggers off: the change sends no NOTIFY. */
const unnotified = (sql: string, params: unknown[]) => withoutTriggers(fx.db.pool, (client) => client.query(sql, params));

async function member(role: 'admin' | 'member' = 'member') {
  const person = await makePerson(fx.db, { tenantId: acme.tenant.id, role });
  return { person, token: await sessionToken(fx.srv, person.id, acme.tenant.id, role) };
}

describe('answers from memory, dropped by the NOTIFY of the change', () => {
  it('a membership: cached (a change without NOTIFY is not seen), then a notified removal ends access within 1 s', async () => {
    const { person, token } = await member('admin');
    expect((await hook(token)).body['X-Hasura-Role']).toBe('tenant_admin');
    // Proof the answer comes from memory: a demotion that notifies nobody is not seen...
    await unnotified('update public.memberships set role = $3 where tenant_id = $1 and identity_id = $2', [
      acme.tenant.id,
      person.id,
      'member',
    ]);
    expect((await hook(token)).body['X-Hasura-Role']).toBe('tenant_admin');
    // ...until a notified change to that person arrives.
    await fx.db.pool.query('delete from public.memberships where tenant_id = $1 and identity_id = $2', [acme.tenant.id, person.id]);
    await vi.waitFor(async () => expect((await hook(token)).status).toBe(401), WITHIN_1S);
    await vi.waitFor(async () => expect((await rest(token)).status).toBe(403), WITHIN_1S);
  });

  it('a demotion, a revoked session, a lost platform-admin flag: each within 1 s', async () => {
    const admin = await member('admin');
    expect((await hook(admin.token)).body['X-Hasura-Role']).toBe('tenant_admin');
    await fx.db.pool.query(`update public.memberships set role = 'member' where tenant_id = $1 and identity_id = $2`, [
      acme.tenant.id,
      admin.person.id,
    ]);
    await vi.waitFor(async () => expect((await hook(admin.token)).body['X-Hasura-Role']).toBe('member'), WITHIN_1S);

    const other = await member();
    expect((await rest(other.token)).status).toBe(200);
    await fx.db.pool.query(`update public.auth_sessions set revoked_at = now(), revoke_reason = 'logout' where identity_id = $1`, [
      other.person.id,
    ]);
    await vi.waitFor(async () => expect((await rest(other.token)).status).toBe(401), WITHIN_1S);
    expect((await hook(other.token)).status).toBe(401);

    const ops = await makePerson(fx.db, { platformAdmin: true, label: 'ops' });
    const opsToken = await sessionToken(fx.srv, ops.id, null, 'platform_admin');
    const opsHook = () =>
      request<Record<string, string>>(fx.srv.url, '/hasura/auth', {
        body: { headers: { host: 'saas.test', authorization: `Bearer ${opsToken}` } },
      });
    expect((await opsHook()).status).toBe(200);
    await fx.db.pool.query('update public.identities set is_platform_admin = false where id = $1', [ops.id]);
    await vi.waitFor(async () => expect((await opsHook()).status).toBe(401), WITHIN_1S);
  });

  it('an API key revoked or expired in SQL is refused within 1 s; a new key is accepted at once', async () => {
    const owner = await sessionToken(fx.srv, acme.ownerId, acme.tenant.id, 'owner');
    const create = () =>
      request(fx.srv.url, `/api/tenants/${acme.tenant.id}/api-keys`, { host: ACME, token: owner, body: { name: 'sql', role: 'member' } });
    const first = (await create()).body as { key: string; apiKey: { id: string } };
    expect((await hook(first.key)).status).toBe(200);
    await fx.db.pool.query('update public.tenant_api_keys set revoked_at = now() where id = $1', [first.apiKey.id]);
    await vi.waitFor(async () => expect((await hook(first.key)).status).toBe(401), WITHIN_1S);
    expect((await rest(first.key)).status).toBe(401);

    const second = (await create()).body as { key: string; apiKey: { id: string } };
    expect((await hook(second.key)).status).toBe(200);
    await fx.db.pool.query(`update public.tenant_api_keys set expires_at = now() - interval '1 second' where id = $1`, [second.apiKey.id]);
    await vi.waitFor(async () => expect((await rest(second.key)).status).toBe(401), WITHIN_1S);
  });

  it('every notifying trigger is in place (memberships, identities, auth_sessions, tenant_api_keys, TRUNCATE too)', async () => {
    const { rows } = await fx.db.pool.query<{ tbl: string; n: number }>(
      `select c.relname as tbl, count(*)::int as n from pg_trigger t join pg_class c on c.oid = t.tgrelid
        where t.tgname like '_950_access_notify%' group by c.relname order by c.relname`,
    );
    expect(rows).toEqual(['auth_sessions', 'identities', 'memberships', 'tenant_api_keys'].map((tbl) => ({ tbl, n: 2 })));
  });
});

describe('a lost LISTEN connection', () => {
  const listenerPids = async () =>
    (
      await fx.db.pool.query<{ pid: number }>(
        `select pid from pg_stat_activity where datname = current_database() and application_name = 'listen:access_changed'`,
      )
    ).rows.map((r) => r.pid);

  it('turns the cache off until it is back: a change nobody notified is seen at once, never stale access', async () => {
    const { person, token } = await member('admin');
    expect((await hook(token)).body['X-Hasura-Role']).toBe('tenant_admin');
    const [pid] = await listenerPids();
    expect(pid).toBeDefined();

    await fx.db.pool.query('select pg_terminate_backend($1)', [pid]);
    await vi.waitFor(() => expect(fx.srv.ctx.access.listening).toBe(false), WITHIN_1S);
    // Without the connection no NOTIFY can arrive, and none is sent here: the answer must still be the database's.
    await unnotified('update public.memberships set role = $3 where tenant_id = $1 and identity_id = $2', [
      acme.tenant.id,
      person.id,
      'member',
    ]);
    expect((await hook(token)).body['X-Hasura-Role']).toBe('member');
    await unnotified('delete from public.memberships where tenant_id = $1 and identity_id = $2', [acme.tenant.id, person.id]);
    expect((await hook(token)).status).toBe(401);
    expect((await rest(token)).status).toBe(403);

    // It reconnects (within about a second) on a new backend, and notified changes work again.
    await vi.waitFor(async () => expect((await listenerPids()).filter((p) => p !== pid)).toHaveLength(1), { timeout: 5000, interval: 50 });
    await vi.waitFor(() => expect(fx.srv.ctx.access.listening).toBe(true), { timeout: 5000, interval: 50 });
    const again = await member();
    expect((await hook(again.token)).status).toBe(200);
    await fx.db.pool.query('delete from public.memberships where tenant_id = $1 and identity_id = $2', [acme.tenant.id, again.person.id]);
    await vi.waitFor(async () => expect((await hook(again.token)).status).toBe(401), WITHIN_1S);
  });

  it('the tenant cache too: a suspension nobody notified is seen at once while its listener is away', async () => {
    const t = await makeTenant(fx.db, 'lost', { plan: 'enterprise', trial: true });
    const owner = await sessionToken(fx.srv, t.ownerId, t.tenant.id, 'owner');
    const ownHook = () =>
      request<Record<string, string>>(fx.srv.url, '/hasura/auth', {
        body: { headers: { host: 'lost.saas.test', authorization: `Bearer ${owner}` } },
      });
    expect((await ownHook()).status).toBe(200);
    const { rows } = await fx.db.pool.query<{ pid: number }>(
      `select pid from pg_stat_activity where datname = current_database() and application_name = 'listen:tenant_changed'`,
    );
    await fx.db.pool.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
    await vi.waitFor(() => expect(fx.srv.ctx.resolver.listening).toBe(false), WITHIN_1S);
    await unnotified(`update public.tenants set status = 'suspended', suspended_at = now() where id = $1`, [t.tenant.id]);
    expect((await ownHook()).status).toBe(401);
    await vi.waitFor(() => expect(fx.srv.ctx.resolver.listening).toBe(true), { timeout: 5000, interval: 50 });
  });
});
