// Adopting a single-tenant deployment: a database whose schema (public by
// default) holds the tenant template's tables becomes a new tenant here. The
// source is read in one read-only snapshot (nothing is written there); its
// tables must match the template's (same names and columns), each table's
// rows stream from COPY ... TO STDOUT straight into the new tenant, and the
// row counts and checksums taken in that snapshot must match what arrived.
// Members with an e-mail become people here (matched by e-mail); the owner is
// --owner-email or the earliest such member.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { AppError } from '../core/errors.ts';
import { POOLED_SCHEMA } from '../tenants/data.ts';
import type { TenantRow } from '../tenants/records.ts';
import { latestVersion, loadTemplate, TEMPLATE_DIR } from '../tenants/template.ts';
import { tablesOf, tableSums } from '../tenants/move/copy.ts';
import type { TableSum } from '../tenants/move/records.ts';
import { tableCopySql } from './export.ts';
import { restoreTenant, type PersonIn, type RestoreDeps } from './restore.ts';

const ident = (name: string) => pg.Client.prototype.escapeIdentifier(name);
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

export interface AdoptOptions {
  slug: string;
  from: string;
  schema?: string | undefined;
  to?: 'schema' | 'pooled' | undefined;
  name?: string | undefined;
  plan?: string | undefined;
  ownerEmail?: string | undefined;
}

export interface AdoptResult {
  tenant: TenantRow;
  tables: Record<string, TableSum>;
  /** Tables of the source schema that are not part of the template (not copied). */
  skipped: string[];
}

export async function adoptDatabase(deps: RestoreDeps, opts: AdoptOptions): Promise<AdoptResult> {
  const schema = opts.schema ?? 'public';
  const source = new pg.Client({ connectionString: opts.from });
  try {
    await source.connect();
  } catch (err) {
    throw new AppError('VALIDATION_FAILED', `Cannot connect to the source database: ${(err as Error).message}`);
  }
  try {
    await source.query('begin isolation level repeatable read read only');
    const template = await tablesOf(deps.pool, { schema: POOLED_SCHEMA });
    const found = await tablesOf(source as unknown as pg.PoolClient, { schema });
    const byName = new Map(found.map((t) => [t.name, t]));
    const problems: string[] = [];
    for (const t of template) {
      const s = byName.get(t.name);
      if (!s) {
        problems.push(`table ${t.name} is missing`);
        continue;
      }
      const missing = t.columns.filter((c) => !s.columns.includes(c));
      const extra = s.columns.filter((c) => !t.columns.includes(c));
      if (missing.length) problems.push(`${t.name} lacks ${missing.join(', ')}`);
      if (extra.length) problems.push(`${t.name} has columns the template does not (${extra.join(', ')})`);
    }
    if (problems.length) {
      throw new AppError(
        'VALIDATION_FAILED',
        `The source schema ${schema} is not shaped like the tenant template: ${problems.join('; ')}`,
        { problems },
      );
    }
    const skipped = found.filter((t) => !template.some((x) => x.name === t.name)).map((t) => t.name);
    // The template's column order (the source may list them differently).
    const specs = template.map((t) => ({ name: t.name, columns: t.columns }));
    const sums = await tableSums(source as unknown as pg.PoolClient, { schema, keyed: false, tenantId: NIL_UUID }, specs);

    const { rows: members } = await source.query<{ identity_id: string | null; email: string; display_name: string }>(
      `select identity_id::text, lower(email) as email, display_name from ${ident(schema)}.${ident('members')}
        where email is not null order by created_at, id`,
    );
    const people: PersonIn[] = members
      .filter((m) => m.identity_id)
      .map((m) => ({ sourceId: m.identity_id, email: m.email, name: m.display_name }));
    const ownerEmail = opts.ownerEmail?.toLowerCase() ?? people[0]?.email;
    if (!ownerEmail)
      throw new AppError(
        'VALIDATION_FAILED',
        'The source has no member with an e-mail and a person id to own the tenant; pass --owner-email',
      );
    let owner = people.find((p) => p.email === ownerEmail);
    if (!owner) {
      owner = { sourceId: randomUUID(), email: ownerEmail, name: null };
      people.push(owner);
    }
    const ownerId = owner.sourceId!;
    const steps = await loadTemplate(deps.templateDir ?? TEMPLATE_DIR);
    const { tenant, tables } = await restoreTenant(deps, {
      slug: opts.slug,
      to: opts.to ?? 'schema',
      name: opts.name ?? opts.slug,
      plan: opts.plan ?? 'free',
      templateVersion: latestVersion(steps),
      people,
      memberships: people.map((p) => ({ sourceId: p.sourceId!, role: p.sourceId === ownerId ? 'owner' : 'member' })),
      tables: specs.map((t) => ({
        name: t.name,
        columns: t.columns,
        expected: sums[t.name]!,
        open: () => source.query(copyTo(`copy (${tableCopySql({ schema, keyed: false, tenantId: NIL_UUID }, t)}) to stdout`)),
      })),
      audit: { action: 'tenant.adopted', values: { source_schema: schema, tables: sums } },
    });
    await source.query('commit');
    return { tenant, tables, skipped };
  } finally {
    await source.end().catch(() => undefined);
  }
}
