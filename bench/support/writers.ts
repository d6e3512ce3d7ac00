// Concurrent writers into one tenant's data, the way the server writes: each
// row in its own transaction as the tenant's role (withTenantData).
import { performance } from 'node:perf_hooks';
import { createPool } from '../../actions-server/src/db/database.ts';
import type { Client, Pool } from '../../actions-server/src/db/tx.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import type { TenantPlacement } from '../../actions-server/src/tenants/placement.ts';
import type { BenchDb } from './cluster.ts';
import { forEachLimit } from './stats.ts';

/** A pool with `size` connections already open, so the first writes do not race connection setup. */
export async function warmPool(db: BenchDb, size: number): Promise<Pool> {
  const pool = createPool(db.url, size);
  const clients = await Promise.all(Array.from({ length: size }, () => pool.connect()));
  for (const c of clients) c.release();
  return pool;
}

/**
 * Inserts `count` rows with `writers` concurrent transactions; `insert` runs one
 * row's statement inside the tenant's transaction. Returns the wall time in ms.
 */
export async function writeRows(opts: {
  pool: Pool;
  tenant: TenantPlacement;
  writers: number;
  count: number;
  insert: (client: Client, i: number) => Promise<unknown>;
}): Promise<number> {
  const indexes = Array.from({ length: opts.count }, (_, i) => i);
  const start = performance.now();
  await forEachLimit(indexes, opts.writers, (i) =>
    withTenantData(opts.pool, opts.tenant, undefined, (client) => opts.insert(client, i)).then(() => undefined),
  );
  return performance.now() - start;
}
