// The child process of export-job.ts. Input: an ExportJob (child.ts);
// output: one JSON line (duration, peak RSS, rows) on stdout.
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { createLogger } from '../../actions-server/src/core/log.ts';
import { exportTenant } from '../../actions-server/src/portability/export.ts';
import { TenantDatabases } from '../../actions-server/src/tenants/databases.ts';
import { childInput } from './child.ts';
import { exportJobSchema } from './export-job.ts';

const MB = 1024 * 1024;
const job = await childInput(exportJobSchema);
const pool = new pg.Pool({ connectionString: job.url, max: 2 });
let peak = process.memoryUsage().rss;
const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
const t0 = performance.now();
let rows = 0;
try {
  if (job.mode === 'copy') {
    const c = await pool.connect();
    try {
      const stream = c.query(copyTo(`copy ${job.relation} to stdout`));
      stream.on('data', (chunk: Buffer) => {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) rows++;
      });
      await pipeline(stream, new Writable({ write: (_c, _e, cb) => cb() }));
    } finally {
      c.release();
    }
  } else {
    const databases = new TenantDatabases({
      mainUrl: job.url,
      mainPool: pool,
      servers: {},
      poolSize: 2,
      maxPools: 2,
      idleMs: 60_000,
      log: createLogger('silent'),
    });
    try {
      const { manifest } = await exportTenant({ pool, databases }, job.tenantId, job.out);
      rows = manifest.tables.find((t) => t.name === 'messages')?.rows ?? -1;
    } finally {
      await databases.close();
    }
  }
} finally {
  clearInterval(timer);
  await pool.end();
}
const ms = performance.now() - t0;
peak = Math.max(peak, process.memoryUsage().rss);
process.stdout.write(`${JSON.stringify({ ms, peakMb: peak / MB, rows })}\n`);
