// Exporting one tenant, whatever its tier, into an archive (archive.ts):
//   data      every table of its placement (its schema, its own database, or
//             its rows of the pooled tables), streamed with COPY ... TO STDOUT
//             inside one read-only snapshot, with each table's row count and
//             checksum taken in the same snapshot;
//   registry  its tenants row (without placement or billing-provider ids),
//             settings, members' identities (e-mail and name only: never a
//             password hash), memberships, invitations (never the token hash),
//             usage and the audit trail, in one snapshot of the main database.
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { AppError } from '../core/errors.ts';
import { withTransaction, type Client, type Pool } from '../db/tx.ts';
import type { TenantDatabases } from '../tenants/databases.ts';
import type { TenantRow } from '../tenants/records.ts';
import { latestVersion, loadTemplate } from '../tenants/template.ts';
import { sideOf, tablesOf, tableSums, STABLE_TEXT_SETTINGS, withSidePool, type Side, type TableSpec } from '../tenants/move/copy.ts';
import { ARCHIVE_FORMAT, ARCHIVE_VERSION, CopyJsonToNdjson, Staging, type Manifest } from './archive.ts';

const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);
const literal = (value: string) => pg.Client.prototype.escapeLiteral(value);

export interface ExportDeps {
  pool: Pool;
  databases: TenantDatabases;
}

/**
 * The registry rows an archive carries, each a query yielding one json
 * column, `$tenant` standing for the tenant id (a validated uuid, as a
 * literal: COPY takes no parameters).
 */
export const REGISTRY_QUERIES: Record<string, string> = {
  tenant: `select to_jsonb(t) - array['schema_name', 'db_role', 'database_name', 'database_url_env']
                 - array(select k from jsonb_object_keys(to_jsonb(t)) k where k like 'stripe%')
             from public.tenants t where t.id = $tenant`,
  settings: `select to_jsonb(s) from public.tenant_settings s where s.tenant_id = $tenant`,
  people: `select jsonb_build_object('id', i.id, 'email', i.email, 'name', i.name)
             from public.identities i
            where i.id in (select identity_id from public.memberships where tenant_id = $tenant
                           union select invited_by from public.tenant_invitations where tenant_id = $tenant)
            order by i.id`,
  memberships: `select to_jsonb(m) from public.memberships m where m.tenant_id = $tenant order by m.identity_id`,
  invitations: `select to_jsonb(i) - 'token_hash' from public.tenant_invitations i where i.tenant_id = $tenant order by i.id`,
  usage_counters: `select to_jsonb(c) from public.tenant_counters c where c.tenant_id = $tenant`,
  usage_history: `select to_jsonb(h) from public.tenant_usage_history h where h.tenant_id = $tenant order by h.period`,
  usage_messages: `select to_jsonb(u) from public.tenant_usage_counters u where u.tenant_id = $tenant order by u.period, u.shard`,
  usage_api_calls: `select to_jsonb(a) from public.tenant_api_calls a where a.tenant_id = $tenant order by a.period, a.endpoint`,
  audit_logs: `select to_jsonb(e) from public.tenant_audit_entries e where e.tenant_id = $tenant order by e.seq`,
};

const copyOut = (client: Client, sql: string) => client.query(copyTo(`copy (${sql}) to stdout`));

/** COPY of the tenant's rows of one table, its columns in the table's order (tenant_id left out). */
export function tableCopySql(side: Pick<Side, 'schema' | 'keyed' | 'tenantId'>, spec: TableSpec): string {
  const where = side.keyed ? ` where tenant_id = ${literal(side.tenantId)}` : '';
  return `select ${spec.columns.map(ident).join(', ')} from ${ident(side.schema)}.${ident(spec.name)}${where}`;
}

/** Streams every table of one side into the staging directory, in one snapshot of the caller's transaction. */
export async function stageTables(client: Client, side: Side, staging: Staging): Promise<Manifest['tables']> {
  await client.query(STABLE_TEXT_SETTINGS);
  const specs = await tablesOf(client, side);
  if (specs.length === 0) throw new AppError('CONFLICT', `The tenant's placement (${side.schema}) holds no tables`);
  const sums = await tableSums(client, side, specs);
  const out: Manifest['tables'] = [];
  for (const spec of specs) {
    const file = await staging.write(`data/${spec.name}.copy`, copyOut(client, tableCopySql(side, spec)));
    const sum = sums[spec.name]!;
    if (String(file.rows) !== sum.rows) throw new Error(`${spec.name}: ${file.rows} rows copied, ${sum.rows} counted`);
    out.push({ ...file, name: spec.name, columns: spec.columns, checksum: sum.checksum });
  }
  return out;
}

async function loadTenant(pool: Pool, tenantId: string): Promise<TenantRow> {
  const row = (await pool.query<TenantRow>('select * from public.tenants where id = $1', [tenantId])).rows[0];
  if (!row) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  if (row.status === 'migrating')
    throw new AppError('CONFLICT', 'The tenant is being moved between tiers; export it when the move is done');
  return row;
}

/** Writes the tenant's archive to `out` and returns its manifest, size and SHA-256. */
export async function exportTenant(
  deps: ExportDeps,
  tenantId: string,
  out: string,
): Promise<{ manifest: Manifest; bytes: number; sha256: string }> {
  const tenant = await loadTenant(deps.pool, tenantId);
  // A database tenant's usage counters live in its database: mirror them first.
  if (tenant.isolation === 'database') await deps.databases.pullUsage(tenant.id);
  const side = sideOf(tenant.id, tenant);
  const staging = await Staging.create();
  try {
    const tables = await withSidePool(deps.pool, deps.databases, side, (pool) =>
      withTransaction(pool, (c) => stageTables(c, side, staging), 'begin isolation level repeatable read read only'),
    );
    const { registry, head } = await withTransaction(
      deps.pool,
      async (c) => {
        await c.query(STABLE_TEXT_SETTINGS);
        const registry: Manifest['registry'] = [];
        for (const [name, sql] of Object.entries(REGISTRY_QUERIES)) {
          const file = await staging.write(
            `registry/${name}.ndjson`,
            copyOut(c, sql.replaceAll('$tenant', literal(tenant.id))),
            new CopyJsonToNdjson(),
          );
          registry.push({ ...file, name });
        }
        const h = (
          await c.query<{ seq: string; hash: string }>('select seq::text, hash from public.tenant_audit_heads where tenant_id = $1', [
            tenant.id,
          ])
        ).rows[0];
        return { registry, head: { seq: Number(h?.seq ?? 0), hash: h?.hash || null } };
      },
      'begin isolation level repeatable read read only',
    );
    const manifest: Manifest = {
      format: ARCHIVE_FORMAT,
      version: ARCHIVE_VERSION,
      createdAt: new Date().toISOString(),
      tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name, plan: tenant.plan, status: tenant.status, branding: tenant.branding },
      tier: tenant.isolation,
      // Pooled tables always follow the latest template.
      templateVersion: tenant.template_version === null ? latestVersion(await loadTemplate()) : Number(tenant.template_version),
      auditHead: head,
      tables,
      registry,
    };
    const packed = await staging.pack(manifest, out);
    return { manifest, ...packed };
  } finally {
    await staging.remove();
  }
}
