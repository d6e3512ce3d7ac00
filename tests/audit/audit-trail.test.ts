// The audit trail: written by triggers for every path (REST, SQL as app, Hasura
// sessions, system actors), append-only, hash-chained per tenant, readable by
// owners and admins over REST.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { request, type HttpResponse } from '../support/http.ts';
import { makeTenant } from '../support/factories.ts';
import { asSystem, asTenant } from '../../actions-server/src/db/tx.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { hardDeleteTenant } from '../../actions-server/src/tenants/service.ts';
import { auditRows, sqlState } from './helpers.ts';
import { asPersona, hasuraSession, type Persona } from '../support/personas.ts';
import type { AuditPage } from '../../actions-server/src/audit/service.ts';

let db: TestDb;
let srv: RunningServer;
let adminToken: string;
let adminId: string;

const UA = 'audit-test/1.0';

async function addMember(tenantId: string, byUserId: string, email: string, role = 'member'): Promise<string> {
  const id = (
    await db.pool.query<{ id: string }>('insert into public.identities (email, name) values ($1, $2) returning id', [email, email])
  ).rows[0]!.id;
  await asTenant(db.pool, { tenantId, userId: byUserId, dbRole: 'app', ip: '203.0.113.9', userAgent: UA }, (c) =>
    c.query('insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, $3)', [tenantId, id, role]),
  );
  return id;
}

beforeAll(async () => {
  db = await createTestDb();
  // This suite is about the trail itself, not entitlements: every plan includes the features it uses.
  await db.pool.query(`update public.plans set features = features || '{"audit_logs": true, "custom_domain": true}'`);
  srv = await startTestServer(db);
  adminId = (
    await db.pool.query<{ id: string }>(
      `insert into public.identities (email, name, is_platform_admin) values ('ops@platform.test', 'Ops', true) returning id`,
    )
  ).rows[0]!.id;
  adminToken = srv.ctx.tokens.sign({ userId: adminId, tenantId: null, role: 'platform_admin' }).token;
});
afterAll(async () => {
  await srv?.close();
  await db?.close();
});

describe('lifecycle changes', () => {
  it('records each change once, with its actor and only the changed columns', async () => {
    const created = await request(srv.url, '/api/tenants/create', {
      headers: { 'user-agent': UA },
      body: { name: 'Acme', slug: 'acme', ownerEmail: 'o@acme.com', ownerName: 'O', ownerPassword: 'securepass123' },
    });
    expect(created.status, created.text).toBe(201);
    const tenantId: string = created.body.tenant.id;
    const ownerId: string = created.body.owner.id;
    const owner = { host: 'acme.saas.test', token: created.body.token as string, headers: { 'user-agent': UA } };
    const put = (body: unknown) => request(srv.url, `/api/tenants/${tenantId}`, { ...owner, method: 'PUT', body });
    const admin = (action: string) =>
      request(srv.url, `/api/tenants/${tenantId}/${action}`, { method: 'POST', token: adminToken, headers: { 'user-agent': UA } });

    expect((await put({ name: 'Acme Corp' })).status).toBe(200);
    expect((await put({ branding: { primaryColor: '#112233' } })).status).toBe(200);
    expect((await put({ settings: { locale: 'de' } })).status).toBe(200);
    expect((await put({ customDomain: 'chat.acme.com' })).status).toBe(200);
    expect((await admin('verify-domain')).status).toBe(200);
    expect((await admin('suspend')).status).toBe(200);
    expect((await admin('reactivate')).status).toBe(200);
    const memberId = await addMember(tenantId, ownerId, 'm@acme.com');
    // A role change straight through Hasura: the actor comes from hasura.user.
    await asPersona(
      db.pool,
      { kind: 'hasura', session: hasuraSession('owner', ownerId, tenantId) },
      async (c) => {
        const updated = await c.query(`update public.memberships set role = 'admin' where identity_id = $1`, [memberId]);
        expect(updated.rowCount).toBe(1);
      },
      { commit: true },
    );
    await asSystem(
      db.pool,
      (c) => c.query(`update public.tenants set plan = 'pro', subscription_status = 'active' where id = $1`, [tenantId]),
      {
        kind: 'stripe',
      },
    );
    expect((await request(srv.url, `/api/tenants/${tenantId}`, { ...owner, method: 'DELETE' })).status).toBe(200);

    const rows = await auditRows(db.pool, tenantId);
    const asOwner = { actor_kind: 'user', actor_id: ownerId, user_agent: UA };
    const asAdmin = { actor_kind: 'user', actor_id: adminId, user_agent: UA };
    const expected = [
      { action: 'tenant.created', ...asOwner },
      { action: 'membership.added', entity_id: ownerId, new_values: expect.objectContaining({ role: 'owner' }), ...asOwner },
      { action: 'tenant.updated', old_values: { name: 'Acme' }, new_values: { name: 'Acme Corp' }, ...asOwner },
      { action: 'tenant.updated', old_values: { branding: {} }, new_values: { branding: { primaryColor: '#112233' } }, ...asOwner },
      { action: 'settings.updated', old_values: { settings: {} }, new_values: { settings: { locale: 'de' } }, ...asOwner },
      {
        action: 'custom_domain.changed',
        old_values: { custom_domain: null },
        new_values: { custom_domain: 'chat.acme.com' },
        ...asOwner,
      },
      // The ownership proof issued with the new domain (its token is never in the trail).
      { action: 'custom_domain.token_issued', ...asOwner },
      {
        action: 'custom_domain.verified',
        old_values: { custom_domain_verified_at: null },
        new_values: { custom_domain_verified_at: expect.any(String) },
        ...asAdmin,
      },
      { action: 'custom_domain.verified_manually', ...asAdmin },
      {
        action: 'tenant.suspended',
        old_values: { status: 'active', suspended_at: null },
        new_values: { status: 'suspended', suspended_at: expect.any(String) },
        ...asAdmin,
      },
      {
        action: 'tenant.reactivated',
        old_values: { status: 'suspended', suspended_at: expect.any(String) },
        new_values: { status: 'active', suspended_at: null },
        ...asAdmin,
      },
      {
        action: 'membership.added',
        entity_id: memberId,
        new_values: expect.objectContaining({ role: 'member' }),
        ...asOwner,
        ip: '203.0.113.9',
      },
      {
        action: 'membership.role_changed',
        entity_id: memberId,
        old_values: { role: 'member' },
        new_values: { role: 'admin' },
        actor_kind: 'user',
        actor_id: ownerId,
        actor_role: 'owner',
        ip: null,
      },
      { action: 'tenant.plan_changed', old_values: { plan: 'free' }, new_values: { plan: 'pro' }, actor_kind: 'stripe', actor_id: null },
      {
        action: 'subscription.updated',
        old_values: { subscription_status: null },
        new_values: { subscription_status: 'active' },
        actor_kind: 'stripe',
      },
      {
        action: 'tenant.cancelled',
        old_values: { status: 'active', cancelled_at: null },
        new_values: { status: 'cancelled', cancelled_at: expect.any(String) },
        ...asOwner,
      },
    ];
    const lifecycle = rows.filter((r) => !['settings.created', 'tenant.template_upgraded'].includes(r.action));
    expect(lifecycle.map((r) => r.action)).toEqual(expected.map((e) => e.action));
    expect(lifecycle).toHaveLength(expected.length);
    lifecycle.forEach((row, i) => expect(row, `entry ${i + 1}: ${row.action}`).toMatchObject(expected[i]!));
    // REST entries carry the caller's address.
    expect(lifecycle.filter((r) => r.actor_kind === 'user' && r.actor_role === null).every((r) => r.ip !== null)).toBe(true);
    // The created entry holds the row (tenant core and billing columns alike).
    expect(lifecycle[0]!.new_values).toMatchObject({ id: tenantId, slug: 'acme', status: 'active', plan: 'free' });
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
  });

  it('keeps the trail of a hard-deleted tenant, ending with its deletion', async () => {
    const { tenant, ownerId } = await makeTenant(db, 'doomed');
    await asSystem(db.pool, (c) => c.query('select public.hard_delete_tenant($1)', [tenant.id]), { userId: adminId });
    const rows = await auditRows(db.pool, tenant.id);
    expect(rows[0]!.action).toBe('tenant.created');
    expect(rows.filter((r) => r.action === 'tenant.deleted')).toEqual([
      expect.objectContaining({ actor_id: adminId, old_values: expect.objectContaining({ slug: 'doomed' }), new_values: null }),
    ]);
    expect(rows.find((r) => r.action === 'membership.removed')).toMatchObject({ entity_id: ownerId });
    const { rows: check } = await db.pool.query('select * from public.verify_audit_chain($1)', [tenant.id]);
    expect(check[0]).toMatchObject({ ok: true, broken_seq: null, checked: String(rows.length) });
  });
});

// The trail is the registry's, so every tier is audited the same way; a pooled
// tenant's data goes with its registry row, a database tenant's with its database.
describe.each(['pooled', 'database'] as const)('a %s tenant', (isolation) => {
  it('is audited like any other, from creation to hard delete, on one verified chain', async () => {
    const { tenant } = await makeTenant(db, `audited-${isolation}`, { isolation });
    await asSystem(db.pool, (c) => c.query(`update public.tenants set plan = 'pro' where id = $1`, [tenant.id]), { userId: adminId });
    await hardDeleteTenant(db.pool, tenant.id, { userId: adminId }, srv.ctx.deprovisioningSteps);
    const actions = (await auditRows(db.pool, tenant.id)).map((r) => r.action);
    expect(actions[0]).toBe('tenant.created');
    expect(actions).toEqual(expect.arrayContaining(['membership.added', 'tenant.plan_changed', 'membership.removed', 'tenant.deleted']));
    expect(actions.filter((a) => a === 'tenant.deleted')).toHaveLength(1);
    const { rows: check } = await db.pool.query('select * from public.verify_audit_chain($1)', [tenant.id]);
    expect(check[0]).toMatchObject({ ok: true, broken_seq: null, checked: String(actions.length) });
    // Nothing of it is left but the trail.
    expect((await db.pool.query('select 1 from pooled.members where tenant_id = $1', [tenant.id])).rowCount).toBe(0);
    expect(
      (await db.pool.query('select 1 from pg_database where datname = $1', [`${db.rolePrefix}tenant_audited-database`])).rowCount,
    ).toBe(0);
  });
});

describe('append-only and tamper-evident', () => {
  it('refuses UPDATE and DELETE to app and hasura, and the guard to any other non-owner role', async () => {
    const { tenant, ownerId } = await makeTenant(db, 'guarded');
    const app: Persona = { kind: 'app', tenantId: tenant.id, userId: ownerId };
    // Both roles see the rows (so a refusal is not an empty table) ...
    expect(
      await asPersona(db.pool, app, async (c) => (await c.query('select count(*)::int as n from public.tenant_audit_logs')).rows[0].n),
    ).toBeGreaterThan(0);
    for (const persona of [
      app,
      { kind: 'hasura', session: hasuraSession('owner', ownerId, tenant.id) },
      { kind: 'platformAdmin', userId: ownerId, tenantId: tenant.id },
    ] satisfies Persona[]) {
      expect(
        await sqlState(asPersona(db.pool, persona, (c) => c.query(`update public.tenant_audit_logs set action = 'tenant.forged'`))),
      ).toBe('42501');
      expect(await sqlState(asPersona(db.pool, persona, (c) => c.query('delete from public.tenant_audit_logs')))).toBe('42501');
      expect(await sqlState(asPersona(db.pool, persona, (c) => c.query('truncate public.tenant_audit_logs')))).toBe('42501');
      expect(
        await sqlState(
          asPersona(db.pool, persona, (c) =>
            c.query(
              `insert into public.tenant_audit_logs (tenant_id, seq, actor_kind, action, entity_type, hash)
               values ($1, 999, 'system', 'tenant.forged', 'tenant', 'x')`,
              [tenant.id],
            ),
          ),
        ),
      ).toBe('42501');
    }
    // A role that was granted the privileges (and bypasses RLS) still meets the guard.
    const dba = `${db.rolePrefix}dba`;
    await db.pool.query(`create role ${dba} nologin bypassrls`);
    await db.pool.query(`grant select, update, delete, truncate on public.tenant_audit_logs to ${dba}`);
    const asDba = { kind: 'role', role: dba } as const;
    expect(await sqlState(asPersona(db.pool, asDba, (c) => c.query(`update public.tenant_audit_logs set action = 'tenant.forged'`)))).toBe(
      'SA403',
    );
    expect(await sqlState(asPersona(db.pool, asDba, (c) => c.query('delete from public.tenant_audit_logs')))).toBe('SA403');
    expect(await sqlState(asPersona(db.pool, asDba, (c) => c.query('truncate public.tenant_audit_logs')))).toBe('SA403');
    const { rows } = await db.pool.query('select count(*)::int as n from public.tenant_audit_logs where action = $1', ['tenant.forged']);
    expect(rows[0].n).toBe(0);
  });

  it('makes verify_audit_chain report the entry the owner altered or removed', async () => {
    const { tenant, ownerId } = await makeTenant(db, 'tampered');
    for (const name of ['One', 'Two', 'Three']) {
      await asTenant(db.pool, { tenantId: tenant.id, userId: ownerId, dbRole: 'app' }, (c) =>
        c.query('update public.tenants set name = $2 where id = $1', [tenant.id, name]),
      );
    }
    const verify = async () => (await db.pool.query('select * from public.verify_audit_chain($1)', [tenant.id])).rows[0];
    const entries = await auditRows(db.pool, tenant.id);
    expect(await verify()).toMatchObject({ ok: true, broken_seq: null, checked: String(entries.length) });
    const target = entries.find((r) => r.action === 'tenant.updated' && r.new_values?.['name'] === 'Two')!;

    // The owner may write the table (the guard lets it through); the chain shows it.
    await db.pool.query(`update public.tenant_audit_logs set new_values = '{"name": "Innocent"}' where tenant_id = $1 and seq = $2`, [
      tenant.id,
      target.seq,
    ]);
    expect(await verify()).toMatchObject({ ok: false, broken_seq: String(target.seq), reason: expect.stringContaining('hash') });

    // Recomputing the altered row's own hash moves the break to the next entry.
    await db.pool.query(`update public.tenant_audit_logs l set hash = public.audit_row_hash(l) where tenant_id = $1 and seq = $2`, [
      tenant.id,
      target.seq,
    ]);
    expect(await verify()).toMatchObject({ ok: false, broken_seq: String(target.seq + 1) });

    // The REST check reports the same (owners and admins may run it).
    const token = srv.ctx.tokens.sign({ userId: ownerId, tenantId: tenant.id, role: 'owner' }).token;
    const res = await request(srv.url, `/api/tenants/${tenant.id}/audit/verify`, { host: 'tampered.saas.test', token });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ ok: false, brokenSeq: target.seq + 1 });

    // A deleted entry is reported as missing, the last one too (the chain head remembers it).
    const last = entries.at(-1)!;
    await db.pool.query('delete from public.tenant_audit_logs where tenant_id = $1 and seq = $2', [tenant.id, last.seq]);
    expect(await verify()).toMatchObject({ ok: false, broken_seq: String(target.seq + 1) });
    const { tenant: other } = await makeTenant(db, 'tampered-tail');
    const otherLast = (await auditRows(db.pool, other.id)).at(-1)!;
    await db.pool.query('delete from public.tenant_audit_logs where tenant_id = $1 and seq = $2', [other.id, otherLast.seq]);
    expect((await db.pool.query('select * from public.verify_audit_chain($1)', [other.id])).rows[0]).toMatchObject({
      ok: false,
      broken_seq: String(otherLast.seq),
      reason: `entry ${otherLast.seq} is missing`,
    });
  });

  it('keeps one unforked chain under concurrent writes of one tenant', async () => {
    const { tenant, ownerId } = await makeTenant(db, 'busy');
    const before = (await auditRows(db.pool, tenant.id)).length;
    await Promise.all(Array.from({ length: 16 }, (_, i) => addMember(tenant.id, ownerId, `p${i}@busy.example.com`)));
    const rows = await auditRows(db.pool, tenant.id);
    expect(rows).toHaveLength(before + 16);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    expect((await db.pool.query('select * from public.verify_audit_chain($1)', [tenant.id])).rows[0]).toMatchObject({ ok: true });
  });
});

describe('GET /api/tenants/:id/audit', () => {
  let tenantId: string;
  let ownerToken: string;
  let memberToken: string;
  let adminRoleToken: string;
  const host = 'paged.saas.test';

  beforeAll(async () => {
    const made = await makeTenant(db, 'paged');
    tenantId = made.tenant.id;
    ownerToken = srv.ctx.tokens.sign({ userId: made.ownerId, tenantId, role: 'owner' }).token;
    for (let i = 0; i < 7; i++) {
      await asTenant(db.pool, { tenantId, userId: made.ownerId, dbRole: 'app' }, (c) =>
        c.query('update public.tenants set name = $2 where id = $1', [tenantId, `Paged ${i}`]),
      );
    }
    const memberId = await addMember(tenantId, made.ownerId, 'member@paged.example.com');
    memberToken = srv.ctx.tokens.sign({ userId: memberId, tenantId, role: 'member' }).token;
    const adminUser = await addMember(tenantId, made.ownerId, 'admin@paged.example.com', 'admin');
    adminRoleToken = srv.ctx.tokens.sign({ userId: adminUser, tenantId, role: 'admin' }).token;
  });

  it('pages through every entry, newest first, for owners and admins', async () => {
    const all = await auditRows(db.pool, tenantId);
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: HttpResponse<AuditPage> = await request<AuditPage>(
        srv.url,
        `/api/tenants/${tenantId}/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`,
        {
          host,
          token: ownerToken,
        },
      );
      expect(res.status, res.text).toBe(200);
      expect(res.body.entries.length).toBeLessThanOrEqual(3);
      seen.push(...res.body.entries.map((e) => e.seq));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(all.map((r) => r.seq).reverse());
    expect(pages).toBe(Math.ceil(all.length / 3));

    const byAdmin = await request(srv.url, `/api/tenants/${tenantId}/audit?limit=1`, { host, token: adminRoleToken });
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.body.entries[0]).toMatchObject({
      seq: all.at(-1)!.seq,
      action: 'membership.added',
      actor: { kind: 'user' },
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('filters by action (exact or prefix) and by time', async () => {
    const exact = await request(srv.url, `/api/tenants/${tenantId}/audit?action=tenant.updated`, { host, token: ownerToken });
    expect(exact.status).toBe(200);
    expect(exact.body.entries).toHaveLength(7);
    expect(exact.body.entries[0].newValues).toEqual({ name: 'Paged 6' });

    const prefix = await request(srv.url, `/api/tenants/${tenantId}/audit?action=membership.*`, { host, token: ownerToken });
    expect(prefix.body.entries.map((e: { action: string }) => e.action)).toEqual([
      'membership.added',
      'membership.added',
      'membership.added',
    ]);

    const future = new Date(Date.now() + 3600_000).toISOString();
    const past = '2000-01-01T00:00:00Z';
    const none = await request(srv.url, `/api/tenants/${tenantId}/audit?from=${future}`, { host, token: ownerToken });
    expect(none.body.entries).toEqual([]);
    const beforeNow = await request(srv.url, `/api/tenants/${tenantId}/audit?from=${past}&to=${future}`, { host, token: ownerToken });
    expect(beforeNow.body.entries.length).toBe((await auditRows(db.pool, tenantId)).length);
    // Plain dates are read as midnight UTC.
    const byDate = await request(srv.url, `/api/tenants/${tenantId}/audit?from=2000-01-01&to=2999-12-31`, { host, token: ownerToken });
    expect(byDate.status, byDate.text).toBe(200);
    expect(byDate.body.entries.length).toBe(beforeNow.body.entries.length);
    expect((await request(srv.url, `/api/tenants/${tenantId}/audit?from=2026-13-45`, { host, token: ownerToken })).status).toBe(400);

    const bad = await request(srv.url, `/api/tenants/${tenantId}/audit?cursor=abc`, { host, token: ownerToken });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });

  it('refuses members, other tenants and anonymous callers', async () => {
    const asMember = await request(srv.url, `/api/tenants/${tenantId}/audit`, { host, token: memberToken });
    expect(asMember.status).toBe(403);
    expect(asMember.body.error.code).toBe('FORBIDDEN');

    const other = await makeTenant(db, 'nosy');
    const nosyToken = srv.ctx.tokens.sign({ userId: other.ownerId, tenantId: other.tenant.id, role: 'owner' }).token;
    const onHost = await request(srv.url, `/api/tenants/${tenantId}/audit`, { host, token: nosyToken });
    expect(onHost.status).toBe(403);
    expect(onHost.body.error.code).toBe('TENANT_MISMATCH');
    const onOwnHost = await request(srv.url, `/api/tenants/${tenantId}/audit`, { host: 'nosy.saas.test', token: nosyToken });
    expect(onOwnHost.status).toBe(403);
    expect(onOwnHost.body.error.code).toBe('FORBIDDEN');

    const anonymous = await request(srv.url, `/api/tenants/${tenantId}/audit`, { host });
    expect(anonymous.status).toBe(401);

    // Under RLS the other tenant's app scope reads none of these rows.
    const visible = await asPersona(
      db.pool,
      { kind: 'app', tenantId: other.tenant.id },
      async (c) => (await c.query('select count(*)::int as n from public.tenant_audit_logs where tenant_id = $1', [tenantId])).rows[0].n,
    );
    expect(visible).toBe(0);
  });

  it('exports the filtered trail as CSV or JSON, for owners and admins only', async () => {
    const all = await auditRows(db.pool, tenantId);
    const json = await request(srv.url, `/api/tenants/${tenantId}/audit/export?format=json`, { host, token: adminRoleToken });
    expect(json.status, json.text).toBe(200);
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(json.headers['content-disposition']).toBe('attachment; filename=audit-paged.json');
    expect(json.body.map((e: { seq: number }) => e.seq)).toEqual(all.map((r) => r.seq).reverse());

    const csv = await request(srv.url, `/api/tenants/${tenantId}/audit/export?action=tenant.updated`, { host, token: ownerToken });
    expect(csv.status, csv.text).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    const lines = csv.text.trimEnd().split('\r\n');
    expect(lines[0]).toBe('seq,createdAt,action,entityType,entityId,actorKind,actorId,actorRole,ip,userAgent,oldValues,newValues,hash');
    expect(lines).toHaveLength(8);
    expect(lines[1]).toContain('"tenant.updated"');
    expect(lines[1]).toContain('"{""name"":""Paged 6""}"');

    // A value a spreadsheet would run as a formula (here a user agent) is defused.
    await asTenant(db.pool, { tenantId, userId: adminId, dbRole: 'app', userAgent: '=HYPERLINK("http://evil.example")' }, (c) =>
      c.query('update public.tenants set name = $2 where id = $1', [tenantId, 'Paged 7']),
    );
    const formula = await request(srv.url, `/api/tenants/${tenantId}/audit/export?action=tenant.updated&format=csv`, {
      host,
      token: ownerToken,
    });
    expect(formula.text.split('\r\n')[1]).toContain(`"'=HYPERLINK(""http://evil.example"")"`);
    const empty = await request(srv.url, `/api/tenants/${tenantId}/audit/export?format=json&from=2999-01-01`, { host, token: ownerToken });
    expect(empty.body).toEqual([]);

    expect((await request(srv.url, `/api/tenants/${tenantId}/audit/export`, { host, token: memberToken })).status).toBe(403);
    expect((await request(srv.url, `/api/tenants/${tenantId}/audit/export`, { host })).status).toBe(401);
    const bad = await request(srv.url, `/api/tenants/${tenantId}/audit/export?format=xml`, { host, token: ownerToken });
    expect([bad.status, bad.body.error.code, bad.body.error.details.issues[0].path]).toEqual([400, 'VALIDATION_FAILED', 'format']);
    expect((await request(srv.url, `/api/tenants/${tenantId}/audit/export?limit=5`, { host, token: ownerToken })).status).toBe(400);
  });

  it('answers 404 for a malformed tenant id', async () => {
    const res = await request(srv.url, `/api/tenants/${randomUUID().slice(0, 8)}/audit`, { host, token: ownerToken });
    expect(res.status).toBe(404);
  });
});
