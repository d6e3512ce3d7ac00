// Background tenants, made fast. Benchmarks that need thousands of existing
// tenants cannot afford the sign-up path for each (it hashes the owner's
// password with argon2 on purpose), so these make exactly the database objects
// provisioning makes for a schema tenant (registry row, role, schema from the
// template, secured) without an owner identity. What is measured always goes
// through the project's own services.
import { withTransaction, type Pool } from '../../actions-server/src/db/tx.ts';
import { applyTemplate, loadTemplate, TEMPLATE_DIR } from '../../actions-server/src/tenants/template.ts';
import { roleNameFor, schemaNameFor } from '../../actions-server/src/tenants/records.ts';
import { forEachLimit } from './stats.ts';

/** provisioning hands its database of thousands of schema tenants to template-migration under this key. */
export const SCHEMA_TENANTS_KEY = 'schema-tenants';

function fillSlug(i: number): string {
  return `fill-${String(i).padStart(5, '0')}`;
}

/**
 * Registry rows only (with their settings row, no schema, no role): enough for
 * resolution, plan limits and rate limits. Returns their slugs, in order.
 */
export async function insertRegistryTenants(pool: Pool, count: number, plan = 'free'): Promise<string[]> {
  const { rows } = await pool.query<{ slug: string }>(
    `with t as (
       insert into public.tenants (name, slug, status, isolation, schema_name, db_role, template_version, plan)
       select 'Registry ' || s, 'reg-' || lpad(s::text, 5, '0'), 'active', 'schema',
              'tenant_reg-' || lpad(s::text, 5, '0'), 'unused_tenant_reg-' || lpad(s::text, 5, '0'), 1, $2
       from generate_series(1, $1::int) s
       returning id, slug
     ), settings as (
       insert into public.tenant_settings (tenant_id) select id from t
     )
     select slug from t order by slug`,
    [count, plan],
  );
  return rows.map((r) => r.slug);
}

export interface FillOptions {
  pool: Pool;
  rolePrefix: string;
  /** Tenant numbers [from, to) are created. */
  from: number;
  to: number;
  concurrency: number;
  templateDir?: string;
  onProgress?: (done: number, total: number) => void;
}

/** Schema tenants fill-<n> for n in [from, to): one transaction each, like provisioning. */
export async function fillSchemaTenants(opts: FillOptions): Promise<void> {
  const steps = await loadTemplate(opts.templateDir ?? TEMPLATE_DIR);
  const numbers = Array.from({ length: Math.max(0, opts.to - opts.from) }, (_, i) => opts.from + i);
  let done = 0;
  await forEachLimit(numbers, opts.concurrency, async (n) => {
    const slug = fillSlug(n);
    const schema = schemaNameFor(slug);
    const role = roleNameFor(opts.rolePrefix, slug);
    await withTransaction(opts.pool, async (client) => {
      // Setup, not measurement: no need to wait for the WAL flush of every tenant.
      await client.query('set local synchronous_commit = off');
      const { rows } = await client.query<{ id: string }>(
        `insert into public.tenants (name, slug, status, isolation, schema_name, db_role)
         values ($1, $2, 'active', 'schema', $3, $4) returning id`,
        [`Fill ${n}`, slug, schema, role],
      );
      await client.query('insert into public.tenant_settings (tenant_id) values ($1)', [rows[0]!.id]);
      await client.query(`create role ${client.escapeIdentifier(role)} nologin nobypassrls noinherit`);
      await client.query(`grant ${client.escapeIdentifier(role)} to current_user`);
      await client.query(`create schema ${client.escapeIdentifier(schema)}`);
      await client.query(`comment on schema ${client.escapeIdentifier(schema)} is ${client.escapeLiteral(`tenant:${rows[0]!.id}`)}`);
      const version = await applyTemplate(client, { schema, role, tenantId: rows[0]!.id, fromVersion: 0, steps });
      await client.query('update public.tenants set template_version = $2 where id = $1', [rows[0]!.id, version]);
    });
    done++;
    if (done % 250 === 0 || done === numbers.length) opts.onProgress?.(done, numbers.length);
  });
}
