// Database-tier tenants (ARCHITECTURE.md §4, §11): each has a database of its own,
// on this server or on the server named by a connection setting, built from
// the same template as a schema tenant.
//
// What the dedicated database holds: every platform migration (so the limit,
// usage and audit triggers and the functions they call exist there unchanged)
// and a copy of the tenant's registry rows those triggers read (its tenants
// row, tenant_settings, the plans), with the tenant's schema tenant_<slug>
// inside, guarded by the tenant's role as in the schema tier. So a database
// tenant is, inside its database, exactly a schema tenant of a one-tenant
// platform, and every trigger behaves the same:
//   - plan limits are checked against the copy of the plan and overrides; the
//     copy is written at creation, whenever this process opens a pool to the
//     database, and on every tenant_changed notification (plan, status, limit
//     or feature overrides changed in the main registry);
//   - usage (users, channels, storage, files, messages) is counted in the
//     tenant database's own counters, in the same transaction as the change;
//     the main registry's counters mirror them, refreshed by pullUsage (the
//     usage routes call it before reading), so GET /api/tenants/:id/usage and
//     tenant_limit_report read the main database for every tier. API calls
//     are metered in the main database, as for every tier;
//   - audit, invitations, memberships and billing stay in the main registry.
// The registry keeps the server's setting name (tenants.database_url_env,
// a variable TENANT_DATABASE_URL_<NAME>), never a URL or a password.
//
// Each process keeps a bounded set of small pools, one per tenant database in
// use, created on demand; an idle pool is closed after TENANT_DB_POOL_IDLE_MS,
// and at TENANT_DB_POOLS_MAX the least recently used idle one makes room.
import pg from 'pg';
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import { createPool, openClient, type PoolOptions } from '../db/database.ts';
import { migrateUp } from '../db/migrate.ts';
import { asSystem, isUuid, setTransactionLimits, type Client, type Pool, type TransactionLimits } from '../db/tx.ts';
import { applyTemplate, latestVersion, type TemplateStep } from './template.ts';
import type { TenantRow } from './records.ts';
import { databaseRefOf, readPlacement, type TenantPlacement } from './placement.ts';

const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);

/** Where a database tenant's data lives. */
export interface DatabaseRef {
  tenantId: string;
  databaseName: string;
  /** Name of the variable holding the server's URL; null = the main server. */
  databaseUrlEnv: string | null;
}

export interface TenantDatabasesOptions {
  /** The main database (DATABASE_URL or the embedded one): its server is the default. */
  mainUrl: string;
  mainPool: Pool;
  /** TENANT_DATABASE_URL_<NAME> → URL (config: TENANT_DATABASE_SERVERS). */
  servers: Record<string, string>;
  poolSize: number;
  maxPools: number;
  idleMs: number;
  log: Logger;
  /** Acquisition timeout and broken-connection reporting of each tenant pool (the server's settings). */
  poolOptions?: PoolOptions;
  /** Request transaction limits of each tenant pool (the server's settings). */
  limits?: TransactionLimits;
}

interface PoolEntry {
  key: string;
  tenantId: string;
  pool: Pool;
  /** The registry copy written when the pool opened; callers wait for it. */
  ready: Promise<void>;
  /** The last copy queued (copies run one at a time), and one not started yet, if any. */
  copying: Promise<void>;
  nextCopy?: Promise<void> | undefined;
  active: number;
  lastUsed: number;
}

/** The owner's first row in the tenant's own members table. */
export interface OwnerMember {
  identityId: string;
  name: string;
  email: string;
}

const keyOf = (ref: DatabaseRef) => `${ref.databaseUrlEnv ?? ''}/${ref.databaseName}`;
/** The comment marking a database (or schema) as built for that tenant. */
export const ownerMark = (tenantId: string) => `tenant:${tenantId}`;

/**
 * Upserts JSON rows (as to_jsonb gives them) into a table, keyed by `key`;
 * `keep` columns stay as they are on conflict. `table` is a constant of the caller's
 * (never input); column names come from our own catalog and are quoted.
 */
export async function upsertJson(
  client: Client,
  table: string,
  key: string[],
  rows: Record<string, unknown>[],
  keep: string[] = [],
): Promise<void> {
  const first = rows[0];
  if (!first) return;
  const set = Object.keys(first).filter((c) => !key.includes(c) && !keep.includes(c));
  await client.query(
    `insert into ${table} select * from jsonb_populate_recordset(null::${table}, $1::jsonb)
     on conflict (${key.map(ident).join(', ')}) do update set ${set.map((c) => `${ident(c)} = excluded.${ident(c)}`).join(', ')}`,
    [JSON.stringify(rows)],
  );
}

/** A tenant's usage counters (users, channels, storage, files, messages; current and past months) as JSON rows. */
export interface UsageRows {
  counters: Record<string, unknown>[];
  history: Record<string, unknown>[];
  messages: Record<string, unknown>[];
}

export async function readUsage(pool: Pool, tenantId: string): Promise<UsageRows> {
  const { rows } = await pool.query<UsageRows>(
    `select coalesce((select jsonb_agg(c) from public.tenant_counters c where c.tenant_id = $1), '[]') as counters,
            coalesce((select jsonb_agg(h) from public.tenant_usage_history h where h.tenant_id = $1), '[]') as history,
            coalesce((select jsonb_agg(u) from public.tenant_usage_counters u where u.tenant_id = $1), '[]') as messages`,
    [tenantId],
  );
  return rows[0]!;
}

/** Writes counters readUsage read into another database (each row replaced; rows only the target has stay). */
export async function writeUsage(pool: Pool, usage: UsageRows): Promise<void> {
  await asSystem(pool, async (client) => {
    // The totals read become the target's base; its shards (and their spare) go.
    await client.query(
      `select public.tenant_counters_set(c.tenant_id, c.users_total, c.channels_total, c.storage_bytes, c.files_count)
         from jsonb_populate_recordset(null::public.tenant_counters, $1::jsonb) c`,
      [JSON.stringify(usage.counters)],
    );
    await upsertJson(client, 'public.tenant_usage_history', ['tenant_id', 'period'], usage.history);
    await upsertJson(client, 'public.tenant_usage_counters', ['tenant_id', 'period', 'shard'], usage.messages);
  });
}

export class TenantDatabases {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly keysByTenant = new Map<string, string>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: TenantDatabasesOptions) {
    this.sweeper = setInterval(() => void this.closeIdle(), Math.max(500, Math.floor(opts.idleMs / 2)));
    this.sweeper.unref();
  }

  /** Whether a setting names a configured server (null: the main server, always). */
  hasServer(databaseUrlEnv: string | null): boolean {
    return databaseUrlEnv === null || this.opts.servers[databaseUrlEnv] !== undefined;
  }

  /** The server URL a tenant's database lives on (as the owner). */
  serverUrl(databaseUrlEnv: string | null): string {
    if (databaseUrlEnv === null) return this.opts.mainUrl;
    const url = this.opts.servers[databaseUrlEnv];
    if (!url) {
      throw new AppError('SERVICE_UNAVAILABLE', `The server of this tenant's database is not configured (${databaseUrlEnv} is not set)`);
    }
    return url;
  }

  databaseUrl(ref: DatabaseRef): string {
    const url = new URL(this.serverUrl(ref.databaseUrlEnv));
    url.pathname = `/${encodeURIComponent(ref.databaseName)}`;
    return url.toString();
  }

  /** Runs fn with the pool of the tenant's database, opening it (and refreshing the registry copy) if needed. */
  async withPool<T>(ref: DatabaseRef, fn: (pool: Pool) => Promise<T>): Promise<T> {
    const entry = this.entryFor(ref);
    entry.active++;
    try {
      await entry.ready;
      return await fn(entry.pool);
    } finally {
      entry.active--;
      entry.lastUsed = Date.now();
    }
  }

  /** Pools open in this process (for operators and tests). */
  openPools(): number {
    return this.pools.size;
  }

  private entryFor(ref: DatabaseRef): PoolEntry {
    const key = keyOf(ref);
    const hit = this.pools.get(key);
    if (hit) return hit;
    if (this.pools.size >= this.opts.maxPools && !this.evictOne()) {
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        'Too many tenant databases are busy in this process; retry shortly',
        { limit: this.opts.maxPools },
        { 'Retry-After': '1' },
      );
    }
    const pool = createPool(this.databaseUrl(ref), this.opts.poolSize, this.opts.idleMs, this.opts.poolOptions);
    if (this.opts.limits) setTransactionLimits(pool, this.opts.limits);
    const entry: PoolEntry = {
      key,
      tenantId: ref.tenantId,
      pool,
      ready: Promise.resolve(),
      copying: Promise.resolve(),
      active: 0,
      lastUsed: Date.now(),
    };
    // Changes made while no pool was open (no process was listening for them) are picked up here.
    entry.ready = entry.copying = this.copyRegistry(pool, ref.tenantId).catch((err: unknown) => {
      this.forget(entry);
      throw err;
    });
    this.pools.set(key, entry);
    this.keysByTenant.set(ref.tenantId, key);
    return entry;
  }

  private forget(entry: PoolEntry): void {
    if (this.pools.get(entry.key) === entry) this.pools.delete(entry.key);
    if (this.keysByTenant.get(entry.tenantId) === entry.key) this.keysByTenant.delete(entry.tenantId);
    entry.pool.end().catch(() => undefined);
  }

  /** Closes the least recently used pool nobody is using; false when all are busy. */
  private evictOne(): boolean {
    let lru: PoolEntry | undefined;
    for (const e of this.pools.values()) if (e.active === 0 && (!lru || e.lastUsed < lru.lastUsed)) lru = e;
    if (!lru) return false;
    this.forget(lru);
    return true;
  }

  /** Closes pools unused for TENANT_DB_POOL_IDLE_MS (run by a timer; `now` for tests). Returns how many. */
  closeIdle(now = Date.now()): number {
    let closed = 0;
    for (const e of [...this.pools.values()]) {
      if (e.active === 0 && now - e.lastUsed >= this.opts.idleMs) {
        this.forget(e);
        closed++;
      }
    }
    return closed;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    const entries = [...this.pools.values()];
    this.pools.clear();
    this.keysByTenant.clear();
    await Promise.all(entries.map((e) => e.pool.end().catch(() => undefined)));
  }

  private async refOf(tenantId: string): Promise<DatabaseRef | undefined> {
    const t = await readPlacement(this.opts.mainPool, tenantId);
    return t?.isolation === 'database' && t.database_name ? databaseRefOf(t) : undefined;
  }

  /**
   * Writes the copy of the tenant's registry rows its database's triggers read
   * (tenants row, settings with limit and feature overrides, plans). Its
   * template_version is the database's own (template migrations record it there).
   */
  private async copyRegistry(pool: Pool, tenantId: string): Promise<void> {
    const { rows } = await this.opts.mainPool.query<{
      tenant: Record<string, unknown> | null;
      settings: Record<string, unknown> | null;
      plans: Record<string, unknown>[];
    }>(
      `select (select to_jsonb(t) from public.tenants t where t.id = $1 and t.isolation = 'database') as tenant,
              (select to_jsonb(s) from public.tenant_settings s where s.tenant_id = $1) as settings,
              (select jsonb_agg(p order by p.id) from public.plans p) as plans`,
      [tenantId],
    );
    const main = rows[0];
    if (!main?.tenant) return; // deleted or no longer served from a database
    await asSystem(
      pool,
      async (client) => {
        await upsertJson(client, 'public.plans', ['id'], main.plans);
        await upsertJson(client, 'public.tenants', ['id'], [main.tenant!], ['template_version']);
        if (main.settings) await upsertJson(client, 'public.tenant_settings', ['tenant_id'], [main.settings]);
      },
      { kind: 'system' },
    );
  }

  /**
   * Copies run one at a time per tenant: two at once could land in the wrong
   * order (the one that read the registry first committing last) and undo a
   * change. A request made while a copy runs gets one that starts after it,
   * shared by every request made before it starts.
   */
  private queueCopy(entry: PoolEntry): Promise<void> {
    if (entry.nextCopy) return entry.nextCopy;
    const next = entry.copying
      .catch(() => undefined)
      .then(() => {
        entry.nextCopy = undefined;
        return this.copyRegistry(entry.pool, entry.tenantId);
      });
    entry.nextCopy = next;
    entry.copying = next;
    return next;
  }

  /** Refreshes a database tenant's registry copy now (tenant_changed listeners call it; no-op for other tiers). */
  async syncRegistry(tenantId: string): Promise<void> {
    const key = this.keysByTenant.get(tenantId);
    const entry = key === undefined ? undefined : this.pools.get(key);
    if (entry) {
      entry.active++;
      try {
        await entry.ready;
        await this.queueCopy(entry);
      } finally {
        entry.active--;
        entry.lastUsed = Date.now();
      }
      return;
    }
    const ref = await this.refOf(tenantId);
    // Opening the pool writes the copy.
    if (ref) await this.withPool(ref, () => Promise.resolve(undefined));
  }

  /**
   * Mirrors a database tenant's usage counters (users, channels, storage,
   * files, messages; current and past months) into the main registry, so
   * public.tenant_usage and tenant_limit_report answer for it as for any
   * tenant. No-op for other tiers.
   */
  async pullUsage(tenantId: string): Promise<void> {
    const ref = await this.refOf(tenantId);
    if (!ref) return;
    const usage = await this.withPool(ref, (pool) => readUsage(pool, tenantId));
    await writeUsage(this.opts.mainPool, usage);
  }

  /**
   * Builds the tenant's database: CREATE DATABASE (outside any transaction, so
   * a failure anywhere drops it again: nothing is left behind), the platform
   * migrations, the registry copy, then the tenant's schema from the template
   * with the owner as its first member. Returns the template version.
   */
  async build(tenant: TenantRow, owner: OwnerMember, steps: TemplateStep[]): Promise<number> {
    const ref = databaseRefOf(tenant);
    const { schema_name: schema, db_role: role } = tenant;
    if (!schema || !role || !isUuid(tenant.id)) throw new Error('database tenant without schema, role or id');
    const created = { database: false, role: false };
    let pool: Pool | undefined;
    try {
      await this.onServer(ref.databaseUrlEnv, async (admin) => {
        // Other servers get the tenant's role here; on the main server the
        // provisioning transaction made it (roles are cluster-wide).
        if (ref.databaseUrlEnv !== null) {
          await admin.query(`create role ${ident(role)} nologin nobypassrls noinherit`);
          created.role = true;
          await admin.query(`grant ${ident(role)} to current_user`);
        }
        await admin.query(`create database ${ident(ref.databaseName)}`);
        created.database = true;
        // Marks it ours: drop() removes only a database carrying this mark.
        await admin.query(`comment on database ${ident(ref.databaseName)} is ${admin.escapeLiteral(ownerMark(tenant.id))}`);
        // Only the owner connects; Hasura's login is granted CONNECT when the tenant is exposed.
        await admin.query(`revoke connect, temporary on database ${ident(ref.databaseName)} from public`);
      });
      pool = createPool(this.databaseUrl(ref), 2);
      await migrateUp(pool);
      await this.copyRegistry(pool, tenant.id);
      const version = await asSystem(pool, async (client) => {
        // Schema first, tables after (as in the schema tier).
        await client.query(`create schema ${ident(schema)}`);
        await client.query(`comment on schema ${ident(schema)} is ${client.escapeLiteral(ownerMark(tenant.id))}`);
        const v = await applyTemplate(client, { schema, role, tenantId: tenant.id, fromVersion: 0, steps });
        if (v !== latestVersion(steps)) throw new Error('template did not reach its latest version');
        await client.query(`insert into ${ident(schema)}.members (identity_id, display_name, email) values ($1, $2, $3)`, [
          owner.identityId,
          owner.name,
          owner.email,
        ]);
        await client.query('update public.tenants set template_version = $2 where id = $1', [tenant.id, v]);
        return v;
      });
      return version;
    } catch (err) {
      await pool?.end().catch(() => undefined);
      pool = undefined;
      await this.dropCreated(ref, role, tenant.id, created).catch((e: Error) =>
        this.opts.log.error(
          { tenantId: tenant.id, database: ref.databaseName, err: e.message },
          'could not drop a half-built tenant database',
        ),
      );
      throw err;
    } finally {
      await pool?.end().catch(() => undefined);
    }
  }

  /** Deprovisioning step before a hard delete: drops a database tenant's database (no-op for other tiers). */
  async dropFor(tenantId: string): Promise<void> {
    const t = await readPlacement(this.opts.mainPool, tenantId);
    if (t) await this.drop(t);
  }

  /** Keeps registry copies current: every tenant_changed notification for a tenant with an open pool refreshes its copy. */
  watch(resolver: { onChange(listener: (change: { id?: string }) => void): void }): void {
    resolver.onChange((change) => {
      if (!change.id || !this.keysByTenant.has(change.id)) return;
      const id = change.id;
      this.syncRegistry(id).catch((err: Error) =>
        this.opts.log.warn(
          { tenantId: id, err: err.message },
          'tenant database registry copy not refreshed; the next pool opening retries',
        ),
      );
    });
  }

  /** Drops the tenant's database (if it is there and carries its mark) and, on another server, its role. */
  async drop(tenant: Pick<TenantPlacement, 'id' | 'database_name' | 'database_url_env' | 'db_role'>): Promise<void> {
    if (!tenant.database_name) return;
    const ref = databaseRefOf(tenant);
    await this.dropCreated(ref, tenant.db_role, tenant.id, { database: true, role: ref.databaseUrlEnv !== null });
  }

  private async dropCreated(
    ref: DatabaseRef,
    role: string | null,
    tenantId: string,
    created: { database: boolean; role: boolean },
  ): Promise<void> {
    const entry = this.pools.get(keyOf(ref));
    if (entry) this.forget(entry);
    await this.onServer(ref.databaseUrlEnv, async (admin) => {
      if (created.database) {
        const { rows } = await admin.query<{ mark: string | null }>(
          `select shobj_description(oid, 'pg_database') as mark from pg_database where datname = $1`,
          [ref.databaseName],
        );
        if (rows[0]) {
          if (rows[0].mark !== ownerMark(tenantId)) {
            throw new AppError('CONFLICT', `Database ${ref.databaseName} is not owned by this tenant; refusing to drop it`);
          }
          await admin.query(`drop database ${ident(ref.databaseName)} with (force)`);
        }
      }
      if (created.role && role) {
        const exists = (await admin.query('select 1 from pg_roles where rolname = $1', [role])).rowCount === 1;
        if (exists) await admin.query(`drop role ${ident(role)}`);
      }
    });
  }

  /** One connection to the server (its own database), outside any transaction: CREATE/DROP DATABASE need that. */
  private async onServer(databaseUrlEnv: string | null, fn: (client: pg.Client) => Promise<void>): Promise<void> {
    const client = await openClient(this.serverUrl(databaseUrlEnv));
    try {
      await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * Applies pending platform migrations to every database tenant's database.
   * One failing tenant (its server unreachable, ...) is reported, not fatal:
   * the others are migrated, and a rerun picks it up.
   */
  async migrateAll(log: (line: string) => void = () => undefined): Promise<{ slug: string; applied: string[]; error?: string }[]> {
    const { rows } = await this.opts.mainPool.query<{ id: string; slug: string; database_name: string; database_url_env: string | null }>(
      `select id, slug, database_name, database_url_env from public.tenants where isolation = 'database' order by slug`,
    );
    const report: { slug: string; applied: string[]; error?: string }[] = [];
    for (const t of rows) {
      try {
        // Its own pool, not the cached one: opening that writes the registry copy, which may need these migrations.
        const pool = createPool(this.databaseUrl({ tenantId: t.id, databaseName: t.database_name, databaseUrlEnv: t.database_url_env }), 2);
        try {
          const applied = await migrateUp(pool);
          for (const m of applied) log(`${t.slug}: applied ${m}`);
          report.push({ slug: t.slug, applied });
        } finally {
          await pool.end();
        }
      } catch (err) {
        log(`${t.slug}: migration failed: ${(err as Error).message}`);
        report.push({ slug: t.slug, applied: [], error: (err as Error).message });
      }
    }
    return report;
  }
}
