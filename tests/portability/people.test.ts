// A person's rights, retention and HTTP exports on one server:
//   - GET /api/me/export returns their identity, memberships and authored rows;
//   - DELETE /api/me erases them: their e-mail, name, ip and user agent are in
//     no table of the main database nor of a tenant database afterwards, no
//     audit row was rewritten and every tenant's chain still verifies;
//   - the retention job leaves a chain that verifies from its checkpoint, and
//     a hard-deleted tenant's entries go after its plan's retention;
//   - POST /api/tenants/:id/exports runs as a job and gives a signed,
//     expiring download link.
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { makePlatformAdmin, makeTenant } from '../support/factories.ts';
import { request } from '../support/http.ts';
import { asTenant, type Pool } from '../../actions-server/src/db/tx.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { PORTABILITY_JOBS, RETENTION_JOB } from '../../actions-server/src/portability/jobs.ts';
import { checkLink } from '../../actions-server/src/portability/exports.ts';
import type { TenantRow } from '../../actions-server/src/tenants/records.ts';
import { onData, seededTenant } from './helpers.ts';

const fx = useTestServer(async () => ({ EXPORT_DIR: await mkdtemp(path.join(os.tmpdir(), 'exports-')), EXPORT_LINK_TTL_SECONDS: '60' }));

const host = (t: TenantRow) => `${t.slug}.saas.test`;
const sign = (userId: string, tenant: TenantRow, role: 'owner' | 'admin' | 'member') =>
  fx.srv.ctx.tokens.sign({ userId, tenantId: tenant.id, role }).token;

/** Every row of every table (any schema) whose text contains one of the needles. */
async function rowsMentioning(pool: Pool, needles: string[]): Promise<string[]> {
  const { rows: tables } = await pool.query<{ s: string; t: string }>(
    `select n.nspname as s, c.relname as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'`,
  );
  const hits: string[] = [];
  for (const { s, t } of tables) {
    const rel = `${pg.Client.prototype.escapeIdentifier(s)}.${pg.Client.prototype.escapeIdentifier(t)}`;
    const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from ${rel} x where x::text ilike any ($1::text[])`, [
      needles.map((n) => `%${n}%`),
    ]);
    if (rows[0]!.n > 0) hits.push(`${s}.${t}: ${rows[0]!.n}`);
  }
  return hits;
}

async function chainOk(tenantId: string): Promise<{ ok: boolean; checked: number; reason: string | null }> {
  return (await fx.db.pool.query('select ok, checked::int, reason from public.verify_audit_chain($1)', [tenantId])).rows[0];
}

describe("a person's export and erasure", () => {
  const EMAIL = 'pat.person@example.com';
  const NAME = 'Pat Qwertyperson';
  const IP = '198.51.100.77';
  const UA = 'PatBrowser/9.9 (erasure-test)';
  let tenants: Awaited<ReturnType<typeof seededTenant>>[];
  let patId: string;

  beforeAll(async () => {
    tenants = [
      await seededTenant(fx.db, 'erase-schema', 'schema', EMAIL),
      await seededTenant(fx.db, 'erase-pooled', 'pooled', EMAIL),
      await seededTenant(fx.db, 'erase-database', 'database', EMAIL),
    ];
    patId = tenants[0]!.memberId;
    await fx.db.pool.query('update public.identities set name = $2 where id = $1', [patId, NAME]);
    const [a, b] = tenants;
    // Pat acts (audited with Pat's address and user agent): as an admin of A, Pat invites someone.
    await fx.db.pool.query(`update public.memberships set role = 'admin' where tenant_id = $1 and identity_id = $2`, [a!.tenant.id, patId]);
    await asTenant(fx.db.pool, { tenantId: a!.tenant.id, userId: patId, dbRole: 'app', ip: IP, userAgent: UA }, (c) =>
      c.query(
        `insert into public.tenant_invitations (tenant_id, email, role, token_hash, invited_by, expires_at) values ($1, 'friend@example.com', 'member', $2, $3, now() + interval '1 day')`,
        [a!.tenant.id, createHash('sha256').update('t1').digest(), patId],
      ),
    );
    // B's owner invites Pat's address (audited with the address in the values).
    await asTenant(fx.db.pool, { tenantId: b!.tenant.id, userId: b!.ownerId, dbRole: 'app', ip: '203.0.113.1' }, (c) =>
      c.query(
        `insert into public.tenant_invitations (tenant_id, email, role, token_hash, invited_by, expires_at) values ($1, $2, 'admin', $3, $4, now() + interval '1 day')`,
        [b!.tenant.id, EMAIL, createHash('sha256').update('t2').digest(), b!.ownerId],
      ),
    );
  });

  it('GET /api/me/export returns their identity, memberships and authored rows in every tier', async () => {
    const res = await request(fx.srv.url, '/api/me/export', {
      host: host(tenants[0]!.tenant),
      token: sign(patId, tenants[0]!.tenant, 'admin'),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.identity).toMatchObject({ id: patId, email: EMAIL, name: NAME });
    expect(res.body.tenants.map((t: { slug: string }) => t.slug).sort()).toEqual(['erase-database', 'erase-pooled', 'erase-schema']);
    for (const t of res.body.tenants) {
      expect(t.member).toHaveLength(1);
      expect(t.authored.messages).toHaveLength(40);
      expect(t.authored.channels).toHaveLength(1);
      expect(t.authored.files).toHaveLength(1);
    }
    expect(res.body.invitations).toHaveLength(1);
    expect(res.body.auditEntries.some((e: { data: { ip?: string } }) => e.data.ip === IP)).toBe(true);
  });

  it('refuses to erase the sole owner of a tenant, changing nothing', async () => {
    const owner = tenants[0]!;
    const res = await request(fx.srv.url, '/api/me', {
      method: 'DELETE',
      host: host(owner.tenant),
      token: sign(owner.ownerId, owner.tenant, 'owner'),
    });
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/only owner of erase-schema/);
    expect((await fx.db.pool.query('select erased_at from public.identities where id = $1', [owner.ownerId])).rows[0].erased_at).toBeNull();
  });

  it('DELETE /api/me: personal data gone from every table, sessions ended, no audit row rewritten, every chain verifies', async () => {
    const needles = [EMAIL, NAME, IP, UA];
    expect((await rowsMentioning(fx.db.pool, needles)).length).toBeGreaterThan(3);
    const before = (
      await fx.db.pool.query<{ tenant_id: string; seq: string; hash: string }>(
        'select tenant_id, seq::text, hash from public.tenant_audit_logs order by 1, 2',
      )
    ).rows;
    const token = sign(patId, tenants[0]!.tenant, 'admin');

    const res = await request(fx.srv.url, '/api/me', {
      method: 'DELETE',
      host: host(tenants[0]!.tenant),
      token,
      headers: { 'user-agent': UA },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.erased.tenants).toHaveLength(3);
    for (const t of res.body.erased.tenants) expect(t).toMatchObject({ deleted: { messages: 40, files: 1 }, pseudonymised: 1 });

    // Gone from the main database and from the database tenant's own database.
    expect(await rowsMentioning(fx.db.pool, needles)).toEqual([]);
    const dbTenant = tenants[2]!.tenant;
    const own = new pg.Pool({
      connectionString: fx.db.databases.databaseUrl({ tenantId: dbTenant.id, databaseName: dbTenant.database_name!, databaseUrlEnv: null }),
      max: 1,
    });
    try {
      expect(await rowsMentioning(own, needles)).toEqual([]);
    } finally {
      await own.end();
    }
    // Kept rows (channels, per ERASE_AUTHORED_ROWS) point at a member row that names nobody.
    for (const t of tenants) {
      const kept = await onData(
        fx.db,
        t.tenant,
        undefined,
        async (c) =>
          (
            await c.query(
              `select m.display_name, m.email, m.identity_id from channels ch join members m on m.id = ch.created_by where ch.name = 'general'`,
            )
          ).rows,
      );
      expect(kept).toEqual([{ display_name: 'Erased member', email: null, identity_id: null }]);
    }

    // Not one audit row rewritten (all still there, same hashes), new entries appended, every chain verifies.
    const after = new Map(
      (
        await fx.db.pool.query<{ tenant_id: string; seq: string; hash: string }>(
          'select tenant_id, seq::text, hash from public.tenant_audit_logs',
        )
      ).rows.map((r) => [`${r.tenant_id}/${r.seq}`, r.hash]),
    );
    for (const r of before) expect(after.get(`${r.tenant_id}/${r.seq}`)).toBe(r.hash);
    expect(after.size).toBeGreaterThan(before.length);
    const { rows: chains } = await fx.db.pool.query<{ tenant_id: string }>('select tenant_id from public.tenant_audit_heads');
    for (const { tenant_id } of chains) expect(await chainOk(tenant_id)).toMatchObject({ ok: true });
    const erased = await fx.db.pool.query(
      `select 1 from public.tenant_audit_logs where tenant_id = $1 and action = 'identity.erased' and entity_id = $2`,
      [tenants[0]!.tenant.id, patId],
    );
    expect(erased.rowCount).toBe(1);

    // Every session is over.
    expect((await request(fx.srv.url, `/api/tenants/${tenants[0]!.tenant.id}`, { host: host(tenants[0]!.tenant), token })).status).toBe(
      403,
    );
    expect((await request(fx.srv.url, '/api/me/export', { host: host(tenants[0]!.tenant), token })).status).toBe(401);
    expect(
      (
        await request(fx.srv.url, '/api/auth/login', {
          host: host(tenants[0]!.tenant),
          body: { email: EMAIL, password: 'member-password-123' },
        })
      ).status,
    ).toBe(401);
  });

  it('a platform admin erases anyone (DELETE /api/identities/:id); others may not', async () => {
    const t = await makeTenant(fx.db, 'erase-admin');
    const { rows } = await fx.db.pool.query<{ id: string }>(
      `insert into public.identities (email, name) values ('sam.second@example.com', 'Sam Second') returning id`,
    );
    const samId = rows[0]!.id;
    await fx.db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'member')`, [t.tenant.id, samId]);
    const refused = await request(fx.srv.url, `/api/identities/${samId}`, {
      method: 'DELETE',
      host: host(t.tenant),
      token: sign(t.ownerId, t.tenant, 'owner'),
    });
    expect(refused.status).toBe(403);
    const admin = await makePlatformAdmin(fx.db);
    const adminToken = fx.srv.ctx.tokens.sign({ userId: admin.id, tenantId: null, role: 'platform_admin' }).token;
    const ok = await request(fx.srv.url, `/api/identities/${samId}`, { method: 'DELETE', token: adminToken });
    expect(ok.status, ok.text).toBe(200);
    expect(await rowsMentioning(fx.db.pool, ['sam.second@example.com', 'Sam Second'])).toEqual([]);
    expect(await chainOk(t.tenant.id)).toMatchObject({ ok: true });
  });
});

describe('audit retention', () => {
  const retain = async (now: string) =>
    Number((await fx.db.pool.query('select public.apply_audit_retention($1::timestamptz)::int as n', [now])).rows[0].n);

  it("removes entries past the plan's retention; the chain verifies from the recorded checkpoint", async () => {
    const free = await makeTenant(fx.db, 'retain-free');
    const pro = await makeTenant(fx.db, 'retain-pro', { plan: 'pro', isolation: 'pooled' });
    for (let i = 0; i < 3; i++)
      await fx.db.pool.query(`update public.tenant_settings set settings = jsonb_build_object('round', $2::int) where tenant_id = $1`, [
        free.tenant.id,
        i,
      ]);
    const entries = (
      await fx.db.pool.query<{ seq: number; created_at: Date }>(
        'select seq::int, created_at from public.tenant_audit_logs where tenant_id = $1 order by seq',
        [free.tenant.id],
      )
    ).rows;
    expect(entries.length).toBeGreaterThanOrEqual(5);
    const keepFrom = entries[entries.length - 2]!;
    // "Now" is 30 days (the free plan's retention) after the first entry to keep: everything before it goes.
    const now = new Date(keepFrom.created_at.getTime() + 30 * 86_400_000).toISOString();
    // (Other tenants' chains older than their retention go too: the run covers every chain.)
    expect(await retain(now)).toBeGreaterThanOrEqual(entries.length - 2);
    const left = (
      await fx.db.pool.query('select seq::int from public.tenant_audit_logs where tenant_id = $1 order by seq', [free.tenant.id])
    ).rows.map((r) => r.seq);
    expect(left).toEqual([keepFrom.seq, keepFrom.seq + 1]);
    expect(await chainOk(free.tenant.id)).toEqual({ ok: true, checked: 2, reason: null });
    const checkpoint = (
      await fx.db.pool.query('select checkpoint_seq::int from public.tenant_audit_retention where tenant_id = $1', [free.tenant.id])
    ).rows[0];
    expect(checkpoint.checkpoint_seq).toBe(keepFrom.seq - 1);
    // New entries chain on; a second run changes nothing; the pro tenant (90 days) kept everything.
    await fx.db.pool.query(`update public.tenant_settings set settings = '{"after": true}' where tenant_id = $1`, [free.tenant.id]);
    await retain(now);
    expect(await chainOk(free.tenant.id)).toEqual({ ok: true, checked: 3, reason: null });
    expect((await chainOk(pro.tenant.id)).ok).toBe(true);
    expect(
      (await fx.db.pool.query('select min(seq)::int as m from public.tenant_audit_logs where tenant_id = $1', [pro.tenant.id])).rows[0].m,
    ).toBe(1);
    // Tampering after the checkpoint is still caught.
    await fx.db.pool.query(`update public.tenant_audit_logs set action = 'settings.forged' where tenant_id = $1 and seq = $2`, [
      free.tenant.id,
      keepFrom.seq,
    ]);
    expect(await chainOk(free.tenant.id)).toMatchObject({ ok: false });
  });

  it("a hard-deleted tenant's entries go after its plan's retention, not before", async () => {
    const gone = await makeTenant(fx.db, 'retain-gone');
    await fx.db.pool.query('select public.hard_delete_tenant($1)', [gone.tenant.id]);
    const count = async () =>
      (await fx.db.pool.query('select count(*)::int as n from public.tenant_audit_logs where tenant_id = $1', [gone.tenant.id])).rows[0].n;
    const n = await count();
    expect(n).toBeGreaterThan(1);
    await retain(new Date(Date.now() + 29 * 86_400_000).toISOString());
    expect(await count()).toBe(n);
    await retain(new Date(Date.now() + 31 * 86_400_000).toISOString());
    expect(await count()).toBe(0);
    expect((await fx.db.pool.query('select 1 from public.tenant_audit_heads where tenant_id = $1', [gone.tenant.id])).rowCount).toBe(0);
  });

  it('the scheduled job runs the retention', async () => {
    const job = PORTABILITY_JOBS.find((j) => j.name === RETENTION_JOB)!;
    expect(job.schedule).toBeDefined();
    await job.run({}, fx.srv.ctx, undefined as never);
  });
});

describe('exports over HTTP', () => {
  it('owners request an export (a job), read its state and download it through a signed, expiring link', async () => {
    const t = await seededTenant(fx.db, 'http-export', 'pooled', 'http-member@example.com');
    const member = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/exports`, {
      method: 'POST',
      host: host(t.tenant),
      token: sign(t.memberId, t.tenant, 'member'),
    });
    expect(member.status).toBe(403);
    const token = sign(t.ownerId, t.tenant, 'owner');
    const started = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/exports`, { method: 'POST', host: host(t.tenant), token });
    expect(started.status, started.text).toBe(202);
    expect(started.body.export).toMatchObject({ status: 'pending' });
    const id = started.body.export.id;
    await runDueJobs(fx.srv.ctx, PORTABILITY_JOBS);
    const state = await request(fx.srv.url, `/api/tenants/${t.tenant.id}/exports/${id}`, { host: host(t.tenant), token });
    expect(state.status).toBe(200);
    expect(state.body.export).toMatchObject({ status: 'done', summary: { tier: 'pooled', tables: { messages: 40, members: 2 } } });
    const link: string = state.body.export.download.url;

    const file = await fetch(new URL(link, fx.srv.url));
    expect(file.status).toBe(200);
    const bytes = Buffer.from(await file.arrayBuffer());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(state.body.export.sha256);
    expect(bytes.length).toBe(state.body.export.sizeBytes);

    const forged = await fetch(new URL(link.replace(/sig=./, 'sig=A'), fx.srv.url));
    expect(forged.status).toBe(403);
    const u = new URL(link, fx.srv.url);
    expect(() =>
      checkLink(fx.srv.ctx.env, t.tenant.id, id, u.searchParams.get('expires'), u.searchParams.get('sig'), Date.now() + 61_000),
    ).toThrow(/expired/);
  });
});
