// Creating a tenant from rows that come from elsewhere (an export archive, or
// an existing single-tenant database), into any tier. Everything is checked
// that can be before anything is written (slug, plan, template version,
// tables); then the registry rows, the tenant's tables and its data are made
// in one transaction (schema, pooled), or the registry commits first and the
// tenant's database is built and filled after it (database tier), undone on
// failure. Each table's row count and checksum are compared with what the
// source announced before the data counts as restored; a mismatch leaves
// nothing behind. Rows are written with triggers off (as moves do): they were
// limit-checked and metered where they came from; the usage counters are set
// from the restored rows.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { AppError } from '../core/errors.ts';
import { asSystem, withTransaction, type Client, type Pool } from '../db/tx.ts';
import type { Actor } from '../core/actor.ts';
import type { TenantDatabases } from '../tenants/databases.ts';
import { POOLED_SCHEMA } from '../tenants/data.ts';
import { roleNameFor, schemaNameFor, type Isolation, type TenantRow } from '../tenants/records.ts';
import { slugSchema } from '../tenants/schemas.ts';
import { latestVersion, loadTemplate, TEMPLATE_DIR } from '../tenants/template.ts';
import { sideOf, tablesOf, tableSums, withSidePool, type Side, type TableSpec } from '../tenants/move/copy.ts';
import { buildDatabaseTarget, createTenantSchema, ensureRole } from '../tenants/move/placements.ts';
import type { TableSum } from '../tenants/move/records.ts';
import { tierPlacement, type Placement } from '../tenants/placement.ts';

const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);

/** One table's rows in COPY text format, and what they must add up to. */
export interface TableFeed {
  name: string;
  columns: string[];
  expected: TableSum;
  open(): Readable | Promise<Readable>;
}

export interface PersonIn {
  /** The person's id where the rows come from (members.identity_id there), if known. */
  sourceId: string | null;
  email: string;
  name: string | null;
}

export interface RestoreSpec {
  slug: string;
  to: Isolation;
  name: string;
  plan: string;
  branding?: Record<string, unknown>;
  templateVersion: number;
  /** Matched by e-mail with existing identities; the others are created without a password. */
  people: PersonIn[];
  memberships: { sourceId: string; role: 'owner' | 'admin' | 'member' }[];
  settings?: { settings?: unknown; features?: unknown; limit_overrides?: unknown } | undefined;
  invitations?: Record<string, unknown>[];
  /** Usage history rows as exported (tenant_id is replaced). */
  usage?: { history: Record<string, unknown>[]; messages: Record<string, unknown>[]; apiCalls: Record<string, unknown>[] };
  tables: TableFeed[];
  /** The audit entry recording where the tenant came from. */
  audit: { action: string; values: Record<string, unknown> };
}

export interface RestoreDeps {
  pool: Pool;
  databases: TenantDatabases;
  rolePrefix: string;
  templateDir?: string;
  actor?: Actor;
}

export interface RestoreResult {
  tenant: TenantRow;
  tables: Record<string, TableSum>;
}

const bad = (message: string, details?: Record<string, unknown>) => new AppError('VALIDATION_FAILED', message, details);

/** The tables and columns the template gives a tenant (the pooled tables follow it). */
async function templateTables(pool: Pool): Promise<Map<string, Set<string>>> {
  const specs = await tablesOf(pool, { schema: POOLED_SCHEMA });
  return new Map(specs.map((s) => [s.name, new Set(s.columns)]));
}

/** Refuses, before anything is written, what cannot be restored. */
async function precheck(deps: RestoreDeps, spec: RestoreSpec): Promise<void> {
  if (!slugSchema.safeParse(spec.slug).success) throw new AppError('INVALID_SLUG', `slug: ${spec.slug.slice(0, 60)} is not a valid slug`);
  const steps = await loadTemplate(deps.templateDir ?? TEMPLATE_DIR);
  const latest = latestVersion(steps);
  if (spec.templateVersion > latest) {
    throw bad(
      `The data uses tenant template version ${spec.templateVersion}, newer than this server's (${latest}); upgrade the server first`,
      {
        templateVersion: spec.templateVersion,
        serverVersion: latest,
      },
    );
  }
  const { rows } = await deps.pool.query<{ taken: boolean; plan: boolean }>(
    `select exists (select 1 from public.tenants where slug = $1 or schema_name = $2 or db_role = $3) as taken,
            exists (select 1 from public.plans where id = $4) as plan`,
    [spec.slug, schemaNameFor(spec.slug), roleNameFor(deps.rolePrefix, spec.slug), spec.plan],
  );
  if (rows[0]?.taken) throw new AppError('SLUG_TAKEN', `The slug ${spec.slug} is already taken`);
  if (!rows[0]?.plan) throw bad(`Unknown plan ${spec.plan}`);
  const known = await templateTables(deps.pool);
  for (const t of spec.tables) {
    const cols = known.get(t.name);
    if (!cols) throw bad(`Unknown table ${t.name}: not part of the tenant template`, { table: t.name });
    const unknown = t.columns.filter((c) => !cols.has(c));
    if (unknown.length)
      throw bad(`Unknown column ${t.name}.${unknown[0]}: not part of the tenant template`, { table: t.name, columns: unknown });
  }
  if (!spec.memberships.some((m) => m.role === 'owner')) throw bad('The tenant has no owner');
  for (const p of spec.people)
    if (!/^[^@\s]{1,200}@[^@\s]{1,200}$/.test(p.email)) throw bad(`Invalid e-mail address ${p.email.slice(0, 100)}`);
}

/** Registry rows: people (matched by e-mail), the tenant, memberships, settings, invitations. Returns the id map and new identities. */
async function writeRegistry(
  c: Client,
  spec: RestoreSpec,
  placement: Placement,
): Promise<{ tenant: TenantRow; ids: Map<string, string>; created: string[] }> {
  const ids = new Map<string, string>();
  const created: string[] = [];
  for (const p of spec.people) {
    const email = p.email.toLowerCase();
    let id = (await c.query<{ id: string }>('select id from public.identities where email = $1', [email])).rows[0]?.id;
    if (!id) {
      id = (await c.query<{ id: string }>('insert into public.identities (email, name) values ($1, $2) returning id', [email, p.name]))
        .rows[0]!.id;
      created.push(id);
    }
    if (p.sourceId) ids.set(p.sourceId, id);
  }
  const tenant = (
    await c.query<TenantRow>(
      `insert into public.tenants (name, slug, status, isolation, schema_name, db_role, database_name, database_url_env, plan, branding)
       values ($1, $2, 'active', $3, $4, $5, $6, $7, $8, $9) returning *`,
      [
        spec.name,
        spec.slug,
        placement.isolation,
        placement.schema_name,
        placement.db_role,
        placement.database_name,
        null,
        spec.plan,
        spec.branding ?? {},
      ],
    )
  ).rows[0]!;
  for (const m of spec.memberships) {
    const id = ids.get(m.sourceId);
    if (!id) throw bad(`A membership names a person the data does not list (${m.sourceId})`);
    await c.query('insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, $3) on conflict do nothing', [
      tenant.id,
      id,
      m.role,
    ]);
  }
  await c.query(
    `insert into public.tenant_settings (tenant_id, settings, features, limit_overrides)
     values ($1, coalesce($2::jsonb, '{}'), coalesce($3::jsonb, '{}'), coalesce($4::jsonb, '{}'))`,
    [tenant.id, json(spec.settings?.settings), json(spec.settings?.features), json(spec.settings?.limit_overrides)],
  );
  for (const inv of spec.invitations ?? []) {
    const inviter = ids.get(String(inv['invited_by']));
    if (!inviter) continue;
    const acceptedBy = inv['accepted_by'];
    const accepted = typeof acceptedBy === 'string' && acceptedBy ? (ids.get(acceptedBy) ?? null) : null;
    // The token is not exported: the restored invitation cannot be accepted (a new one must be sent).
    const unusable = createHash('sha256').update(randomBytes(32)).digest();
    await c.query(
      `insert into public.tenant_invitations
         select * from jsonb_populate_record(null::public.tenant_invitations, $1::jsonb || jsonb_build_object(
           'tenant_id', $2::uuid, 'invited_by', $3::uuid, 'accepted_by', $4::uuid, 'revoked_by', null))
       on conflict do nothing`,
      [JSON.stringify({ ...inv, token_hash: `\\x${unusable.toString('hex')}` }), tenant.id, inviter, accepted],
    );
  }
  return { tenant, ids, created };
}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/** Loads every feed into the side (triggers off), then compares counts and checksums with what was announced. */
async function loadData(c: Client, side: Side, spec: RestoreSpec, ids: Map<string, string>): Promise<Record<string, TableSum>> {
  await c.query('set local session_replication_role = replica');
  // Pooled rows take their tenant_id from the transaction's tenant (the column default).
  if (side.keyed) await c.query(`set local app.tenant_id = ${c.escapeLiteral(side.tenantId)}`);
  const present = new Set((await tablesOf(c, side)).map((t) => t.name));
  for (const feed of spec.tables) {
    if (!present.has(feed.name)) throw bad(`Unknown table ${feed.name} for template version ${spec.templateVersion}`, { table: feed.name });
    const sql = `copy ${ident(side.schema)}.${ident(feed.name)} (${feed.columns.map(ident).join(', ')}) from stdin`;
    await pipeline(await feed.open(), c.query(copyFrom(sql)));
  }
  const specs: TableSpec[] = spec.tables.map((t) => ({ name: t.name, columns: t.columns }));
  const sums = await tableSums(c, side, specs);
  for (const t of spec.tables) {
    const got = sums[t.name]!;
    if (got.rows !== t.expected.rows)
      throw bad(`Row count mismatch in ${t.name}: ${got.rows} loaded, ${t.expected.rows} expected`, { table: t.name });
    if (got.checksum !== t.expected.checksum)
      throw bad(`Checksum mismatch in ${t.name}: the rows loaded differ from the source`, { table: t.name });
  }
  await remapMembers(c, side, ids);
  await c.query('set local session_replication_role = origin');
  return sums;
}

/** members.identity_id: the source's person ids → this server's identities (matched by e-mail); unknown ones are cleared. */
async function remapMembers(c: Client, side: Side, ids: Map<string, string>): Promise<void> {
  const members = `${ident(side.schema)}.${ident('members')}`;
  const scope = side.keyed ? 'm.tenant_id = $1' : '$1::uuid is not null';
  const map = JSON.stringify([...ids].map(([from, to]) => ({ from, to })));
  const { rows } = await c.query<{ id: string; to: string }>(
    `select m.id, x."to" from ${members} m join jsonb_to_recordset($2::jsonb) x("from" uuid, "to" uuid) on x."from" = m.identity_id where ${scope}`,
    [side.tenantId, map],
  );
  // Cleared first, then set: a swap of ids never meets the unique index half-way.
  await c.query(`update ${members} m set identity_id = null where ${scope} and m.identity_id is not null`, [side.tenantId]);
  await c.query(
    `update ${members} m set identity_id = x."to" from jsonb_to_recordset($2::jsonb) x(id uuid, "to" uuid) where ${scope} and m.id = x.id`,
    [side.tenantId, JSON.stringify(rows)],
  );
}

/** The usage counters of the restored rows, in the database holding them (and usage history from the source). */
async function setUsage(c: Client, side: Side, spec: RestoreSpec): Promise<void> {
  const scope = side.keyed ? `where tenant_id = ${c.escapeLiteral(side.tenantId)}` : '';
  const count = async (table: string, expr: string): Promise<string> => {
    const present = (
      await c.query('select 1 from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = $1 and c.relname = $2', [
        side.schema,
        table,
      ])
    ).rowCount;
    if (!present) return '0';
    return (await c.query<{ v: string }>(`select (${expr})::text as v from ${ident(side.schema)}.${ident(table)} ${scope}`)).rows[0]!.v;
  };
  const users = await count('members', 'count(*)');
  const channels = await count('channels', 'count(*)');
  const files = await count('files', 'count(*)');
  const storage = await count('files', 'coalesce(sum(size_bytes), 0)');
  await c.query('select public.tenant_counters_set($1, $2, $3, $4, $5)', [side.tenantId, users, channels, storage, files]);
  const usage = spec.usage;
  if (!usage) return;
  const retag = (rows: Record<string, unknown>[]) => JSON.stringify(rows.map((r) => ({ ...r, tenant_id: side.tenantId })));
  const load = (table: string, rows: Record<string, unknown>[]) =>
    rows.length === 0
      ? Promise.resolve()
      : c.query(`insert into ${table} select * from jsonb_populate_recordset(null::${table}, $1::jsonb) on conflict do nothing`, [
          retag(rows),
        ]);
  await load('public.tenant_usage_history', usage.history);
  await load('public.tenant_usage_counters', usage.messages);
  await load('public.tenant_api_calls', usage.apiCalls);
}

async function recordOrigin(c: Client, tenantId: string, spec: RestoreSpec): Promise<void> {
  await c.query(`select public.audit_append($1::uuid, $2, 'tenant', $3, null, $4::jsonb)`, [
    tenantId,
    spec.audit.action,
    tenantId,
    JSON.stringify(spec.audit.values),
  ]);
}

/** Creates the tenant `spec` describes; nothing is left behind if any step fails. */
export async function restoreTenant(deps: RestoreDeps, spec: RestoreSpec): Promise<RestoreResult> {
  await precheck(deps, spec);
  const steps = (await loadTemplate(deps.templateDir ?? TEMPLATE_DIR)).filter((s) => s.version <= spec.templateVersion);
  const placement = tierPlacement(spec.slug, spec.to, deps.rolePrefix);
  const actor = deps.actor ?? { kind: 'cli' };

  if (spec.to !== 'database') {
    return asSystem(
      deps.pool,
      async (c) => {
        const { tenant, ids } = await writeRegistry(c, spec, placement);
        let row = tenant;
        if (spec.to === 'schema') {
          await ensureRole(c, placement.db_role!);
          const version = await createTenantSchema(c, tenant.id, placement, steps);
          row = (
            await c.query<TenantRow>('update public.tenants set template_version = $2 where id = $1 returning *', [tenant.id, version])
          ).rows[0]!;
        }
        const side = sideOf(tenant.id, placement);
        const tables = await loadData(c, side, spec, ids);
        await setUsage(c, side, spec);
        await recordOrigin(c, tenant.id, spec);
        return { tenant: row, tables };
      },
      actor,
    );
  }

  const { tenant, ids, created } = await asSystem(deps.pool, (c) => writeRegistry(c, spec, placement), actor);
  const side = sideOf(tenant.id, placement);
  try {
    await buildDatabaseTarget(
      deps.pool,
      deps.databases,
      tenant.id,
      placement,
      steps,
      (fn) => withSidePool(deps.pool, deps.databases, side, fn),
      actor,
    );
    const tables = await withSidePool(deps.pool, deps.databases, side, (pool) =>
      withTransaction(pool, async (c) => {
        const sums = await loadData(c, side, spec, ids);
        await setUsage(c, side, spec);
        return sums;
      }),
    );
    const row = await asSystem(
      deps.pool,
      async (c) => {
        await recordOrigin(c, tenant.id, spec);
        return (
          await c.query<TenantRow>('update public.tenants set template_version = $2 where id = $1 returning *', [
            tenant.id,
            latestVersion(steps),
          ])
        ).rows[0]!;
      },
      actor,
    );
    await deps.databases.pullUsage(tenant.id);
    return { tenant: row, tables };
  } catch (err) {
    await deps.databases.drop(tenant).catch(() => undefined);
    await asSystem(deps.pool, async (c) => {
      await c.query('select public.hard_delete_tenant($1)', [tenant.id]);
      await c.query(
        `delete from public.identities i where i.id = any($1::uuid[]) and not exists (select 1 from public.memberships m where m.identity_id = i.id)`,
        [created],
      );
    });
    throw err;
  }
}
