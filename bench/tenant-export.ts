// Tenant export at scale: a schema tenant holding N messages is exported to a
// tar.gz archive (COPY streams staged on disk, hashed, packed and gzipped)
// while the RSS is sampled; the baseline is a bare
// `COPY <schema>.messages TO STDOUT` read into a sink on the same data. Each
// side runs in a fresh child process (support/export-job.ts), so the figure is
// the same alone or after every other benchmark of a full run.
// Budget: under 200 MB RSS for 1,000,000 messages.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openArchive } from '../actions-server/src/portability/archive.ts';
import { runExportJob } from './support/export-job.ts';
import { signUp } from './support/tenants.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';

const messagesFor = (scale: Scale) => sized(scale, { tiny: 2_000, default: 1_000_000 });

export const tenantExport: Benchmark = {
  name: 'tenant-export',
  title: 'tenant export (tar.gz: manifest, SHA-256 per file, COPY streams) vs a bare COPY ... TO STDOUT of its messages',
  rows(scale) {
    const n = messagesFor(scale).toLocaleString('en-US');
    return [
      {
        id: 'rows-s',
        metric: `messages exported per second (${n} messages): bare COPY TO STDOUT vs the whole export`,
        unit: 'rows/s',
        target: { kind: 'info', text: 'the export also hashes, stages and gzips' },
      },
      {
        id: 'rss',
        metric: `peak RSS (${n} messages) of a process doing only the bare COPY vs only the export`,
        unit: 'MB',
        target: { kind: 'absolute', op: '<', limit: 200, unit: 'MB' },
      },
    ];
  },

  async run(ctx) {
    const n = messagesFor(ctx.scale);
    const db = await ctx.cluster.createDb('tenant_export');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-export-'));
    try {
      const { tenant } = await signUp(db, 'exported', { plan: 'enterprise' });
      const schema = tenant.schema_name!;
      const rel = `${pg.Client.prototype.escapeIdentifier(schema)}.messages`;
      ctx.progress(`loading ${n.toLocaleString('en-US')} messages`);
      const fill = await db.pool.connect();
      try {
        await fill.query('set session_replication_role = replica');
        const ch = (
          await fill.query<{ id: string }>(
            `insert into ${pg.Client.prototype.escapeIdentifier(schema)}.channels (name) values ('general') returning id`,
          )
        ).rows[0]!.id;
        await fill.query(
          `insert into ${rel} (channel_id, body) select $1, 'message number ' || g || ' with a little text in it' from generate_series(1, $2::int) g`,
          [ch, n],
        );
        await fill.query('set session_replication_role = origin');
      } finally {
        fill.release();
      }
      await db.pool.query(`vacuum analyze ${rel}`);

      const bare = await runExportJob({ mode: 'copy', url: db.url, relation: rel });
      ctx.check('bare COPY read every message', n, bare.rows);

      const out = path.join(dir, 'tenant.tar.gz');
      const exported = await runExportJob({ mode: 'export', url: db.url, tenantId: tenant.id, out });
      ctx.check('the manifest counts every message', n, exported.rows);
      // The archive reads back whole: every file's size and SHA-256 match the manifest.
      const { manifest, staging } = await openArchive(out);
      await staging.remove();
      ctx.check(
        'the archive verifies and holds the template tables',
        ['channels', 'files', 'members', 'messages'],
        manifest.tables.map((t) => t.name),
      );

      return {
        'rows-s': { baseline: n / (bare.ms / 1000), project: n / (exported.ms / 1000) },
        rss: {
          baseline: bare.peakMb,
          project: exported.peakMb,
          note: 'RSS of a fresh child process running only that side',
        },
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
      await db.close();
    }
  },
};
