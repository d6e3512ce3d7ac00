// Tenant export at scale: a schema tenant holding N messages is exported to a
// tar.gz archive (COPY streams staged on disk, hashed, packed and gzipped)
// while the process's RSS is sampled; the baseline is a bare
// `COPY <schema>.messages TO STDOUT` read into a sink on the same data.
// Budget: under 200 MB RSS for 1,000,000 messages.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { createLogger } from '../actions-server/src/core/log.ts';
import { TenantDatabases } from '../actions-server/src/tenants/databases.ts';
import { exportTenant } from '../actions-server/src/portability/export.ts';
import { openArchive } from '../actions-server/src/portability/archive.ts';
import { signUp } from './support/tenants.ts';
import { sized, type Benchmark, type Scale } from './support/types.ts';

const messagesFor = (scale: Scale) => sized(scale, { tiny: 2_000, default: 1_000_000 });
const MB = 1024 * 1024;

/** Runs fn while sampling RSS every 20 ms; returns its duration and the peak RSS in MB. */
async function sampled(fn: () => Promise<void>): Promise<{ ms: number; peakMb: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const t0 = performance.now();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  return { ms: performance.now() - t0, peakMb: peak / MB };
}

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

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
        metric: `peak RSS of the process (${n} messages): during the bare COPY vs during the export`,
        unit: 'MB',
        target: { kind: 'absolute', op: '<', limit: 200, unit: 'MB' },
      },
    ];
  },

  async run(ctx) {
    const n = messagesFor(ctx.scale);
    const db = await ctx.cluster.createDb('tenant_export');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-export-'));
    const log = createLogger('silent');
    const databases = new TenantDatabases({
      mainUrl: db.url,
      mainPool: db.pool,
      servers: {},
      poolSize: 2,
      maxPools: 2,
      idleMs: 60_000,
      log,
    });
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

      let copied = 0;
      const bare = await sampled(async () => {
        const c = await db.pool.connect();
        try {
          const stream = c.query(copyTo(`copy ${rel} to stdout`));
          stream.on('data', (chunk: Buffer) => {
            for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) copied++;
          });
          await pipeline(stream, sink());
        } finally {
          c.release();
        }
      });
      ctx.check('bare COPY read every message', n, copied);

      const out = path.join(dir, 'tenant.tar.gz');
      let manifestRows = -1;
      const exported = await sampled(async () => {
        const { manifest } = await exportTenant({ pool: db.pool, databases }, tenant.id, out);
        manifestRows = manifest.tables.find((t) => t.name === 'messages')?.rows ?? -1;
      });
      ctx.check('the manifest counts every message', n, manifestRows);
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
          note: "RSS of the whole benchmark process (it also holds the earlier benchmarks' heap)",
        },
      };
    } finally {
      await databases.close();
      await rm(dir, { recursive: true, force: true });
      await db.close();
    }
  },
};
