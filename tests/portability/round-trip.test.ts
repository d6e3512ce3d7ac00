// Export → import under a new slug, from each tier into another: the same
// rows (counts and checksums of every table), people matched by e-mail, a
// verifiable audit chain. And every kind of bad archive is refused with a
// reason naming the problem, leaving nothing behind.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { useTestDb } from '../support/db.ts';
import { exportTenant } from '../../actions-server/src/portability/export.ts';
import { importTenant } from '../../actions-server/src/portability/import.ts';
import type { RestoreDeps } from '../../actions-server/src/portability/restore.ts';
import type { Isolation } from '../../actions-server/src/tenants/records.ts';
import { runCli } from '../support/cli.ts';
import { dataSums, seededTenant, tenantRow } from './helpers.ts';

let dir: string;
const fx = useTestDb();
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'export-test-'));
});

const deps = (): RestoreDeps => ({ pool: fx.db.pool, databases: fx.db.databases, rolePrefix: fx.db.rolePrefix });
const exportDeps = () => ({ pool: fx.db.pool, databases: fx.db.databases });

async function entries(file: string): Promise<{ name: string; body: Buffer }[]> {
  const out: { name: string; body: Buffer }[] = [];
  const extract = tar.extract();
  Readable.from(zlib.gunzipSync(await readFile(file))).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ name: entry.header.name, body: Buffer.concat(chunks) });
  }
  return out;
}

async function repack(file: string, list: { name: string; body: Buffer }[]): Promise<string> {
  const pack = tar.pack();
  for (const e of list) pack.entry({ name: e.name, size: e.body.length }, e.body);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  await writeFile(file, zlib.gzipSync(Buffer.concat(chunks)));
  return file;
}

describe('tenant export and import', () => {
  const trips: [Isolation, Isolation][] = [
    ['schema', 'pooled'],
    ['pooled', 'database'],
    ['database', 'schema'],
  ];
  for (const [from, to] of trips) {
    it(`round-trips a ${from} tenant into a new ${to} tenant: same rows, counts and checksums`, async () => {
      const src = await seededTenant(fx.db, `rt-${from}`, from, `member-${from}@example.com`);
      const file = path.join(dir, `${from}.tar.gz`);
      const { manifest } = await exportTenant(exportDeps(), src.tenant.id, file);
      expect(manifest.tier).toBe(from);
      expect(Object.fromEntries(manifest.tables.map((t) => [t.name, t.rows]))).toEqual({ channels: 2, files: 2, members: 2, messages: 40 });
      for (const t of manifest.tables) expect(t.sha256).toMatch(/^[0-9a-f]{64}$/);
      // Never a password or token hash, anywhere in the archive.
      const all = (await entries(file)).map((e) => e.body.toString('utf8')).join('\n');
      expect(all).not.toMatch(/password_hash|token_hash|\$argon2/);
      expect(all).toContain(`member-${from}@example.com`);

      const { tenant } = await importTenant(deps(), file, { slug: `rt-${from}-copy`, to });
      expect(tenant.isolation).toBe(to);
      expect(await dataSums(fx.db, tenant)).toEqual(await dataSums(fx.db, src.tenant));
      const people = await fx.db.pool.query(
        `select i.email, m.role from public.memberships m join public.identities i on i.id = m.identity_id where m.tenant_id = $1 order by i.email`,
        [tenant.id],
      );
      expect(people.rows).toEqual([
        { email: `member-${from}@example.com`, role: 'member' },
        { email: src.ownerEmail, role: 'owner' },
      ]);
      const usage = (
        await fx.db.pool.query(
          'select users_total::int, channels_total::int, files_count::int, storage_bytes::int from public.tenant_counters where tenant_id = $1',
          [tenant.id],
        )
      ).rows[0];
      expect(usage).toEqual({ users_total: 2, channels_total: 2, files_count: 2, storage_bytes: 1234 });
      const chain = (await fx.db.pool.query('select ok from public.verify_audit_chain($1)', [tenant.id])).rows[0];
      expect(chain.ok).toBe(true);
      const origin = (
        await fx.db.pool.query(`select new_values from public.tenant_audit_logs where tenant_id = $1 and action = 'tenant.imported'`, [
          tenant.id,
        ])
      ).rows[0];
      expect(origin.new_values).toMatchObject({ source_tenant_id: src.tenant.id, source_tier: from });
    });
  }

  describe('bad archives are refused and nothing is created', () => {
    let good: string;
    let goodEntries: { name: string; body: Buffer }[];
    beforeAll(async () => {
      const src = await seededTenant(fx.db, 'bad-src', 'schema', 'bad-member@example.com');
      good = path.join(dir, 'good.tar.gz');
      await exportTenant(exportDeps(), src.tenant.id, good);
      goodEntries = await entries(good);
    });

    async function expectRefused(file: string, slug: string, message: RegExp): Promise<void> {
      const before = (await fx.db.pool.query('select count(*)::int as n from public.identities')).rows[0].n;
      await expect(importTenant(deps(), file, { slug, to: 'schema' })).rejects.toThrow(message);
      expect(await tenantRow(fx.db, slug)).toBeUndefined();
      expect((await fx.db.pool.query('select 1 from pg_namespace where nspname = $1', [`tenant_${slug}`])).rowCount).toBe(0);
      expect((await fx.db.pool.query('select count(*)::int as n from public.identities')).rows[0].n).toBe(before);
    }

    it('not an archive', async () => {
      const f = path.join(dir, 'junk.tar.gz');
      await writeFile(f, 'this is not a gzip file at all');
      await expectRefused(f, 'junk', /Not an archive/);
    });

    it('a truncated archive', async () => {
      const f = path.join(dir, 'cut.tar.gz');
      const bytes = await readFile(good);
      await writeFile(f, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      await expectRefused(f, 'cut', /truncated/);
    });

    it('an altered file (wrong checksum)', async () => {
      const f = path.join(dir, 'altered.tar.gz');
      await repack(
        f,
        goodEntries.map((e) =>
          e.name === 'data/messages.copy' ? { ...e, body: Buffer.from(e.body.toString().replace('line 1', 'line X')) } : e,
        ),
      );
      await expectRefused(f, 'altered', /Checksum mismatch in data\/messages.copy/);
    });

    it('an unknown table', async () => {
      const manifest = JSON.parse(goodEntries[0]!.body.toString());
      const body = Buffer.from('x\n');
      const { createHash } = await import('node:crypto');
      manifest.tables.push({
        file: 'data/secrets.copy',
        bytes: body.length,
        sha256: createHash('sha256').update(body).digest('hex'),
        rows: 1,
        name: 'secrets',
        columns: ['id'],
        checksum: '1',
      });
      const f = await repack(path.join(dir, 'unknown.tar.gz'), [
        { name: 'manifest.json', body: Buffer.from(JSON.stringify(manifest)) },
        ...goodEntries.slice(1),
        { name: 'data/secrets.copy', body },
      ]);
      await expectRefused(f, 'unknown-table', /Unknown table secrets/);
    });

    it('a template version newer than the server', async () => {
      const manifest = { ...JSON.parse(goodEntries[0]!.body.toString()), templateVersion: 9999 };
      const f = await repack(path.join(dir, 'newer.tar.gz'), [
        { name: 'manifest.json', body: Buffer.from(JSON.stringify(manifest)) },
        ...goodEntries.slice(1),
      ]);
      await expectRefused(f, 'too-new', /template version 9999, newer than this server/);
    });

    it('a slug that is taken', async () => {
      await expect(importTenant(deps(), good, { slug: 'bad-src', to: 'pooled' })).rejects.toThrow(/already taken/);
    });

    it('from the CLI: tenants export writes an archive that imports', async () => {
      const out = path.join(dir, 'cli.tar.gz');
      const exported = await runCli(fx.db, ['tenants', 'export', 'bad-src', '--out', out]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(JSON.parse(exported.stdout)).toMatchObject({ tier: 'schema', tables: { messages: 40 } });
      const { tenant } = await importTenant(deps(), out, { slug: 'cli-copy', to: 'pooled' });
      expect(await dataSums(fx.db, tenant)).toEqual(await dataSums(fx.db, (await tenantRow(fx.db, 'bad-src'))!));
    });
  });
});
