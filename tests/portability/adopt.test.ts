// Adopting a single-tenant deployment: a database made by running the tenant
// template into `public`, with its own people and data, becomes a new tenant
// (schema or pooled) with the same rows, counts and checksums; the source is
// left exactly as it was; a source that is not template-shaped is refused
// with the reason, and nothing is created.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.ts';
import { withDatabase } from '../support/global-setup.ts';
import { runCli } from '../support/cli.ts';
import { adoptDatabase } from '../../actions-server/src/portability/adopt.ts';
import { TEMPLATE_DIR } from '../../actions-server/src/tenants/template.ts';
import { dataSums, tenantRow } from './helpers.ts';

let sourceUrl: string;
let source: pg.Pool;
const fx = useTestDb();
beforeAll(async () => {
  // Named with the file's prefix, so the suite's cleanup drops it.
  const name = `${fx.db.rolePrefix}single`;
  await fx.db.pool.query(`create database ${pg.Client.prototype.escapeIdentifier(name)}`);
  sourceUrl = withDatabase(fx.db.adminUrl, name);
  source = new pg.Pool({ connectionString: sourceUrl, max: 2 });
  // The single-tenant deployment: the template run into public, and its data.
  for (const f of (await readdir(TEMPLATE_DIR)).filter((f) => /^\d+_.+\.sql$/.test(f)).sort()) {
    await source.query(await readFile(path.join(TEMPLATE_DIR, f), 'utf8'));
  }
  await source.query(`
    insert into members (id, identity_id, display_name, email, created_at) values
      ('00000000-0000-4000-8000-000000000001', gen_random_uuid(), 'Alice Founder', 'alice@single.example', now() - interval '2 days'),
      ('00000000-0000-4000-8000-000000000002', gen_random_uuid(), 'Bob Staff', 'bob@single.example', now() - interval '1 day'),
      ('00000000-0000-4000-8000-000000000003', null, 'A Bot', null, now());
    insert into channels (id, name, created_by) values ('00000000-0000-4000-8000-0000000000c1', 'general', '00000000-0000-4000-8000-000000000001'),
                                                     ('00000000-0000-4000-8000-0000000000c2', 'random', null);
    insert into messages (channel_id, member_id, body)
      select '00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-000000000002', 'hello ' || g || E'\\t\\\\' from generate_series(1, 300) g;
    insert into files (channel_id, member_id, name, size_bytes) values ('00000000-0000-4000-8000-0000000000c2', null, 'logo.png', 2048);
    create schema broken;
    create table broken.members (id uuid primary key, display_name text);
  `);
});
afterAll(async () => {
  await source?.end();
});

async function publicSums(): Promise<Record<string, { rows: string; checksum: string }>> {
  const { tableSums, tablesOf } = await import('../../actions-server/src/tenants/move/copy.ts');
  const c = await source.connect();
  try {
    await c.query('begin');
    const specs = await tablesOf(c, { schema: 'public' });
    return await tableSums(c, { schema: 'public', keyed: false, tenantId: '00000000-0000-0000-0000-000000000000' }, specs);
  } finally {
    await c.query('rollback');
    c.release();
  }
}

describe('tenants adopt', () => {
  it('copies a template-shaped public schema into a new schema tenant: same rows and checksums, source untouched', async () => {
    const before = await publicSums();
    const result = await adoptDatabase(
      { pool: fx.db.pool, databases: fx.db.databases, rolePrefix: fx.db.rolePrefix },
      { slug: 'adopted', from: sourceUrl },
    );
    expect(result.skipped).toEqual([]);
    expect(Object.fromEntries(Object.entries(result.tables).map(([k, v]) => [k, v.rows]))).toEqual({
      channels: '2',
      files: '1',
      members: '3',
      messages: '300',
    });
    expect(await publicSums()).toEqual(before);
    // Same rows, except that members now point at this server's people (matched by e-mail).
    const sums = await dataSums(fx.db, result.tenant);
    for (const t of ['channels', 'files', 'messages']) expect(sums[t]).toEqual(before[t]);
    const people = await fx.db.pool.query(
      `select i.email, m.role from public.memberships m join public.identities i on i.id = m.identity_id where m.tenant_id = $1 order by i.email`,
      [result.tenant.id],
    );
    expect(people.rows).toEqual([
      { email: 'alice@single.example', role: 'owner' },
      { email: 'bob@single.example', role: 'member' },
    ]);
    const linked = await fx.db.pool.query(
      `select count(*)::int as n from ${pg.Client.prototype.escapeIdentifier(result.tenant.schema_name!)}.members m join public.identities i on i.id = m.identity_id`,
    );
    expect(linked.rows[0].n).toBe(2);
    const usage = (
      await fx.db.pool.query(
        'select users_total::int, channels_total::int, files_count::int from public.tenant_counters where tenant_id = $1',
        [result.tenant.id],
      )
    ).rows[0];
    expect(usage).toEqual({ users_total: 3, channels_total: 2, files_count: 1 });
    expect((await fx.db.pool.query('select ok from public.verify_audit_chain($1)', [result.tenant.id])).rows[0].ok).toBe(true);
  });

  it('into the pooled tier; from the CLI a schema that is not template-shaped exits 2 naming the problem, nothing created', async () => {
    const { tenant } = await adoptDatabase(
      { pool: fx.db.pool, databases: fx.db.databases, rolePrefix: fx.db.rolePrefix },
      { slug: 'adopted-pooled', from: sourceUrl, to: 'pooled' },
    );
    expect(tenant.isolation).toBe('pooled');
    expect((await dataSums(fx.db, tenant))['messages']).toEqual((await publicSums())['messages']);

    const refused = await runCli(fx.db, ['tenants', 'adopt', 'adopted-broken', '--from', sourceUrl, '--schema', 'broken']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not shaped like the tenant template: table channels is missing/);
    expect(await tenantRow(fx.db, 'adopted-broken')).toBeUndefined();
    const taken = await adoptDatabase(
      { pool: fx.db.pool, databases: fx.db.databases, rolePrefix: fx.db.rolePrefix },
      { slug: 'adopted', from: sourceUrl },
    ).catch((e: Error) => e);
    expect(taken).toBeInstanceOf(Error);
    expect((taken as Error).message).toMatch(/already taken/);
  });
});
