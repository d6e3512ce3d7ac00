// The placement side of a move: guarding the source (capture, freeze, drain),
// building the target's empty tables, handing usage counters over, and
// dropping a copy that is no longer served. All as the owner.
import pg from 'pg';
import { AppError } from '../../core/errors.ts';
import { openClient } from '../../db/database.ts';
import { asSystem, withTransaction, type Client, type Pool } from '../../db/tx.ts';
import type { Actor } from '../../core/actor.ts';
import { migrateUp } from '../../db/migrate.ts';
import { ownerMark, readUsage, upsertJson, writeUsage, type TenantDatabases } from '../databases.ts';
import { applyTemplate, latestVersion, type TemplateStep } from '../template.ts';
import { POOLED_SCHEMA } from '../data.ts';
import { readPlacement, samePlacement, type Placement } from '../placement.ts';
import type { Side } from './copy.ts';

const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);

/** Sets the source's guard (tenant_write_guards lives in the database holding the source). */
export async function setGuard(db: Pool | Client, side: Side, moveId: string, mode: 'capture' | 'frozen'): Promise<void> {
  await db.query(
    `insert into public.tenant_write_guards (tenant_id, schema_name, mode, move_id) values ($1, $2, $3, $4)
     on conflict (tenant_id) do update
       set schema_name = excluded.schema_name, mode = excluded.mode, move_id = excluded.move_id, updated_at = now()`,
    [side.tenantId, side.schema, mode, moveId],
  );
}

/** Removes the guard and the recorded changes (the source serves normally again, or is gone). */
export async function clearGuard(db: Pool | Client, side: Side): Promise<void> {
  await db.query('delete from public.tenant_write_guards where tenant_id = $1 and schema_name = $2', [side.tenantId, side.schema]);
  await db.query('delete from public.tenant_move_changes where tenant_id = $1', [side.tenantId]);
}

/**
 * Waits for every writer that may have read the guard before its last change
 * (drain_tenant_writers); a writer holding it longer than `timeoutMs` fails
 * the step (55P03), which a rerun repeats.
 */
export async function drainWriters(pool: Pool, tenantId: string, timeoutMs: number): Promise<void> {
  await withTransaction(pool, async (c) => {
    await c.query(`set local lock_timeout = ${Math.max(1, Math.floor(timeoutMs))}`);
    await c.query('select public.drain_tenant_writers($1)', [tenantId]);
  });
}

/**
 * Guards the source before anything is copied: a database tenant's database
 * first gets the platform's latest migrations (the guard tables and trigger),
 * a schema's tables get the guard trigger; then capture starts, and once the
 * writers that did not see it have finished, every later change is recorded.
 */
export async function startCapture(pool: Pool, side: Side, moveId: string, drainTimeoutMs: number): Promise<void> {
  if (side.placement.isolation === 'database') await migrateUp(pool);
  if (side.keyed) {
    // The pooled tables carry the guard trigger permanently (1763900007000_moves).
  } else {
    await pool.query('select public.attach_move_guard($1, $2)', [side.schema, side.tenantId]);
  }
  await setGuard(pool, side, moveId, 'capture');
  await drainWriters(pool, side.tenantId, drainTimeoutMs);
}

async function roleExists(client: Client | pg.Client, role: string): Promise<boolean> {
  return (await client.query('select 1 from pg_roles where rolname = $1', [role])).rowCount === 1;
}

/** The tenant's role as provisioning makes it; kept if it exists (schema and database tiers on one server share it). */
export async function ensureRole(client: Client | pg.Client, role: string): Promise<void> {
  if (!(await roleExists(client, role))) await client.query(`create role ${ident(role)} nologin nobypassrls noinherit`);
  await client.query(`grant ${ident(role)} to current_user`);
}

async function dropRole(client: Client | pg.Client, role: string): Promise<void> {
  if (!(await roleExists(client, role))) return;
  await client.query(`drop owned by ${ident(role)}`);
  await client.query(`drop role ${ident(role)}`);
}

async function onServer(url: string, fn: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = await openClient(url);
  try {
    await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A leftover of an earlier attempt at the target is dropped, never anything the tenant does not own. */
async function dropOwnedSchemaIfAny(client: Client, tenantId: string, schema: string): Promise<void> {
  const exists = (await client.query('select 1 from pg_namespace where nspname = $1', [schema])).rowCount === 1;
  if (!exists) return;
  const owned = (await client.query<{ ok: boolean }>('select public.tenant_owns_schema($1, $2) as ok', [tenantId, schema])).rows[0]?.ok;
  if (!owned) throw new AppError('CONFLICT', `Schema ${schema} exists and is not this tenant's; the move cannot build its target there`);
  await client.query(`drop schema ${ident(schema)} cascade`);
}

/** Schema first, tables after (Citus schema-based sharding), marked as the tenant's, from the template. */
export async function createTenantSchema(client: Client, tenantId: string, target: Placement, steps: TemplateStep[]): Promise<number> {
  const schema = target.schema_name!;
  await client.query(`create schema ${ident(schema)}`);
  await client.query(`comment on schema ${ident(schema)} is ${client.escapeLiteral(ownerMark(tenantId))}`);
  const version = await applyTemplate(client, { schema, role: target.db_role!, tenantId, fromVersion: 0, steps });
  if (version !== latestVersion(steps)) throw new Error('template did not reach its latest version');
  return version;
}

/**
 * A schema target in the main database, in one transaction (a rerun starts
 * over). Attaching the template's triggers recounts the tenant's usage from
 * the new, empty tables; the source is still served and metered on the same
 * counters, so their values are put back (they stay locked meanwhile).
 */
export async function buildSchemaTarget(
  pool: Pool,
  tenantId: string,
  target: Placement,
  steps: TemplateStep[],
  actor: Actor,
): Promise<void> {
  await asSystem(
    pool,
    async (c) => {
      await c.query('select public.tenant_counters_lock($1)', [tenantId]);
      const saved = (
        await c.query<{ users_total: string; channels_total: string; storage_bytes: string; files_count: string }>(
          'select users_total, channels_total, storage_bytes, files_count from public.tenant_counters where tenant_id = $1',
          [tenantId],
        )
      ).rows[0];
      await dropOwnedSchemaIfAny(c, tenantId, target.schema_name!);
      await ensureRole(c, target.db_role!);
      await createTenantSchema(c, tenantId, target, steps);
      if (saved) {
        await c.query('select public.tenant_counters_set($1, $2, $3, $4, $5)', [
          tenantId,
          saved.users_total,
          saved.channels_total,
          saved.storage_bytes,
          saved.files_count,
        ]);
      }
    },
    actor,
  );
}

/**
 * A database target: the database (a leftover carrying the tenant's mark is
 * rebuilt), every platform migration, a registry copy that already names the
 * target placement (the limit and usage triggers there read it), and the
 * tenant schema from the template.
 */
export async function buildDatabaseTarget(
  main: Pool,
  databases: TenantDatabases,
  tenantId: string,
  target: Placement,
  steps: TemplateStep[],
  withTargetPool: (fn: (pool: Pool) => Promise<void>) => Promise<void>,
  actor: Actor,
): Promise<void> {
  const name = target.database_name!;
  const role = target.db_role!;
  await onServer(databases.serverUrl(target.database_url_env), async (admin) => {
    // Roles are per server: the main server's is made below, in a transaction of the main database.
    if (target.database_url_env !== null) await ensureRole(admin, role);
    const { rows } = await admin.query<{ mark: string | null }>(
      `select shobj_description(oid, 'pg_database') as mark from pg_database where datname = $1`,
      [name],
    );
    if (rows[0]) {
      if (rows[0].mark !== ownerMark(tenantId))
        throw new AppError('CONFLICT', `Database ${name} exists and is not this tenant's; the move cannot build its target there`);
      await admin.query(`drop database ${ident(name)} with (force)`);
    }
    await admin.query(`create database ${ident(name)}`);
    await admin.query(`comment on database ${ident(name)} is ${admin.escapeLiteral(ownerMark(tenantId))}`);
    // Only the owner connects; Hasura's login is granted CONNECT when the tenant is exposed.
    await admin.query(`revoke connect, temporary on database ${ident(name)} from public`);
  });
  if (target.database_url_env === null) await asSystem(main, (c) => ensureRole(c, role), actor);

  const placement = {
    isolation: target.isolation,
    schema_name: target.schema_name,
    db_role: target.db_role,
    database_name: target.database_name,
    database_url_env: target.database_url_env,
  };
  const { rows } = await main.query<{
    tenant: Record<string, unknown> | null;
    settings: Record<string, unknown> | null;
    plans: Record<string, unknown>[];
  }>(
    `select (select to_jsonb(t) || $2::jsonb from public.tenants t where t.id = $1) as tenant,
            (select to_jsonb(s) from public.tenant_settings s where s.tenant_id = $1) as settings,
            (select jsonb_agg(p order by p.id) from public.plans p) as plans`,
    [tenantId, JSON.stringify(placement)],
  );
  const registry = rows[0];
  if (!registry?.tenant) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  await withTargetPool(async (pool) => {
    await migrateUp(pool);
    await asSystem(
      pool,
      async (c) => {
        await upsertJson(c, 'public.plans', ['id'], registry.plans);
        await upsertJson(c, 'public.tenants', ['id'], [registry.tenant!]);
        if (registry.settings) await upsertJson(c, 'public.tenant_settings', ['tenant_id'], [registry.settings]);
        const version = await createTenantSchema(c, tenantId, target, steps);
        await c.query('update public.tenants set template_version = $2 where id = $1', [tenantId, version]);
      },
      actor,
    );
  });
}

/**
 * Usage counters when a database tier is involved (the other tiers share the
 * main database's counters, which copies made without triggers leave exact):
 * into a database, the main registry's counters are written there (its
 * triggers count on from them); out of one, its counters are mirrored into
 * the main registry (pullUsage). Runs under the freeze, so nothing moves meanwhile.
 */
export async function handOverUsage(main: Pool, databases: TenantDatabases, source: Side, targetPool: Pool, target: Side): Promise<void> {
  if (source.placement.isolation === 'database') await databases.pullUsage(source.tenantId);
  if (target.placement.isolation !== 'database') return;
  await writeUsage(targetPool, await readUsage(main, target.tenantId));
}

/**
 * Drops a copy the tenant is not served from (the source after the switch,
 * the target of an aborted move): pooled rows (without triggers: the counters
 * describe the copy that stays), the tenant schema, or the database; and the
 * tenant role unless the other copy uses it. Refuses the copy the registry names.
 */
export async function dropCopy(
  main: Pool,
  databases: TenantDatabases,
  tenantId: string,
  copy: Placement,
  opts: { keepRole: boolean; actor: Actor },
): Promise<void> {
  const current = await readPlacement(main, tenantId);
  if (current && samePlacement(current, copy)) throw new Error('refusing to drop the placement the tenant is served from');

  switch (copy.isolation) {
    case 'pooled':
      await asSystem(
        main,
        async (c) => {
          await c.query('set local session_replication_role = replica');
          // Children first is not needed without triggers; every pooled table, whatever the template adds.
          const { rows } = await c.query<{ relname: string }>(
            `select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where n.nspname = $1 and c.relkind in ('r', 'p') order by c.relname`,
            [POOLED_SCHEMA],
          );
          for (const r of rows) await c.query(`delete from ${ident(POOLED_SCHEMA)}.${ident(r.relname)} where tenant_id = $1`, [tenantId]);
          await c.query('delete from public.tenant_write_guards where tenant_id = $1 and schema_name = $2', [tenantId, POOLED_SCHEMA]);
        },
        opts.actor,
      );
      return;
    case 'schema':
      await asSystem(
        main,
        async (c) => {
          await dropOwnedSchemaIfAny(c, tenantId, copy.schema_name!);
          await c.query('delete from public.tenant_write_guards where tenant_id = $1 and schema_name = $2', [tenantId, copy.schema_name]);
          if (!opts.keepRole && copy.db_role) await dropRole(c, copy.db_role);
        },
        opts.actor,
      );
      return;
    case 'database':
      // The database (and, on another server, the role there), if it carries the tenant's mark.
      await databases.drop({
        id: tenantId,
        database_name: copy.database_name,
        database_url_env: copy.database_url_env,
        db_role: copy.db_role,
      });
      if (copy.database_url_env === null && !opts.keepRole && copy.db_role) {
        const role = copy.db_role;
        await asSystem(main, (c) => dropRole(c, role), opts.actor);
      }
      return;
    default: {
      const never: never = copy.isolation;
      throw new Error(`unknown isolation ${String(never)}`);
    }
  }
}
