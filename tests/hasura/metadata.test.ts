// The committed Hasura metadata: valid by Hasura's own schema, consistent with
// the actions server, and true of the live migrated database: tables, columns,
// grants and relationships exist; tenant-scoped permissions filter on the
// session's tenant; no role reads a secret; and, read as `hasura` with no
// hasura.user (how Hasura runs queries), each role's filter yields exactly its
// tenant's rows, for the registry and for the pooled tier's shared tables.
import { access } from 'node:fs/promises';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMetadataDir } from '../support/metadata-dir.ts';
import { checkBoolExp, checkMetadataPermissions, validateMetadata } from '../support/hasura-schema.ts';
import type { MetadataJson, TableEntry } from '../support/hasura-double.ts';
import { createTestDb, type TestDb } from '../support/db.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { ACTION_NAMES } from '../../actions-server/src/hasura/actions.ts';
import { withTransaction } from '../../actions-server/src/db/tx.ts';
import { filteredSelect, type Relationship } from './boolexp-sql.ts';
import { enterPersona } from '../support/personas.ts';

const METADATA_DIR = fileURLToPath(new URL('../../hasura/metadata', import.meta.url));
const KINDS = ['select', 'insert', 'update', 'delete'] as const;
/** Roles that act for the whole platform; every other role is tenant-bound. */
const PLATFORM_ROLES = new Set(['platform_admin']);
const SECRET_COLUMN = /password|secret|token/;

let md: MetadataJson;
beforeAll(async () => {
  md = (await loadMetadataDir(METADATA_DIR)) as MetadataJson;
});

const platform = () => {
  const source = md.sources.find((s) => s.name === 'platform');
  if (!source) throw new Error('no platform source');
  return source;
};
const permissionsOf = (t: TableEntry) => KINDS.flatMap((kind) => (t[`${kind}_permissions`] ?? []).map((p) => ({ kind, ...p })));

describe('hasura/metadata', () => {
  it('validates against Hasura metadata schema, permission rules included', () => {
    expect(validateMetadata(md)).toEqual([]);
    expect(checkMetadataPermissions(md)).toEqual([]);
  });

  it('has every file of the CLI format', async () => {
    const files = [
      'version.yaml',
      'databases/databases.yaml',
      'actions.graphql',
      'actions.yaml',
      'cron_triggers.yaml',
      'allow_list.yaml',
      'api_limits.yaml',
      'backend_configs.yaml',
      'graphql_schema_introspection.yaml',
      'inherited_roles.yaml',
      'metrics_config.yaml',
      'network.yaml',
      'opentelemetry.yaml',
      'query_collections.yaml',
      'remote_schemas.yaml',
      'rest_endpoints.yaml',
    ];
    for (const f of files) await expect(access(`${METADATA_DIR}/${f}`)).resolves.toBeUndefined();
  });

  it('keeps migrations on an owner source that tracks nothing, and the data on the hasura role', () => {
    const def = md.sources.find((s) => s.name === 'default');
    expect(def?.tables).toEqual([]);
    expect(def?.configuration).toMatchObject({ connection_info: { database_url: { from_env: 'PG_DATABASE_URL' } } });
    expect(platform().configuration).toMatchObject({ connection_info: { database_url: { from_env: 'PG_HASURA_DATABASE_URL' } } });
  });

  it('declares exactly the actions the dispatcher handles, all on the secret-checked handler', () => {
    const actions = md['actions'] as { name: string; definition: Record<string, unknown>; permissions?: { role: string }[] }[];
    expect(actions.map((a) => a.name).sort()).toEqual([...ACTION_NAMES].sort());
    for (const a of actions) {
      expect(a.definition).toMatchObject({
        handler: '{{ACTIONS_BASE_URL}}/hasura/actions',
        headers: [{ name: 'X-Actions-Secret', value_from_env: 'ACTIONS_SECRET' }],
      });
      expect(a.definition['forward_client_headers']).toBeUndefined();
    }
    const roles = (name: string) =>
      actions
        .find((a) => a.name === name)
        ?.permissions?.map((p) => p.role)
        .sort();
    expect(roles('suspendTenant')).toEqual(['platform_admin']);
    expect(roles('updateTenant')).toEqual(['owner', 'tenant_admin']);
  });

  it('declares no cron triggers: periodic work belongs to the job runner, so no slot runs twice', () => {
    expect(md['cron_triggers'] ?? []).toEqual([]);
  });

  it("never names Hasura's superuser role, and declares no event trigger (Hasura on Citus has none)", () => {
    for (const t of platform().tables) {
      expect(permissionsOf(t).map((p) => p.role)).not.toContain('admin');
      expect(t['event_triggers']).toBeUndefined();
    }
  });
});

describe('hasura/metadata against the migrated database', () => {
  let db: TestDb;
  let a: MadeTenant;
  let b: MadeTenant;
  let pa: MadeTenant;
  let pb: MadeTenant;
  let memberOfA: string;

  interface Column {
    /** schema.table */
    table: string;
    column: string;
    select: boolean;
    update: boolean;
  }
  let columns: Column[];
  const qualified = (t: { schema?: string; name: string }) => `${t.schema ?? 'public'}.${t.name}`;
  const columnsOf = (table: string) => columns.filter((c) => c.table === table).map((c) => c.column);

  beforeAll(async () => {
    db = await createTestDb();
    // The audit trail is readable only with the audit_logs feature (tests/entitlements); here every plan has it,
    // so the filters are what is proven.
    await db.pool.query(`update public.plans set features = features || '{"audit_logs": true}'`);
    a = await makeTenant(db, 'alpha');
    b = await makeTenant(db, 'bravo');
    // A second member in A, and an invitation in each tenant, so every table has rows of both.
    memberOfA = (
      await db.pool.query<{ id: string }>(`insert into public.identities (email, name) values ('m@alpha.example.com', 'M') returning id`)
    ).rows[0]!.id;
    await db.pool.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'member')`, [
      a.tenant.id,
      memberOfA,
    ]);
    for (const t of [a, b]) {
      await db.pool.query(
        `insert into public.tenant_invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
         values ($1, $2, 'member', sha256(convert_to($2, 'UTF8')), $3, now() + interval '7 days')`,
        [t.tenant.id, `new@${t.tenant.slug}.example.com`, t.ownerId],
      );
    }
    // Two pooled tenants with a row in every pooled table, sharing them.
    pa = await makeTenant(db, 'pooled-a', { isolation: 'pooled' });
    pb = await makeTenant(db, 'pooled-b', { isolation: 'pooled' });
    for (const t of [pa, pb]) {
      await db.pool.query(
        `with m as (select id from pooled.members where tenant_id = $1),
              c as (insert into pooled.channels (tenant_id, name, created_by) select $1, 'general', m.id from m returning id),
              f as (insert into pooled.files (tenant_id, channel_id, member_id, name, size_bytes)
                    select $1, c.id, m.id, 'f', 10 from c, m returning 1)
         insert into pooled.messages (tenant_id, channel_id, member_id, body) select $1, c.id, m.id, 'hi' from c, m`,
        [t.tenant.id],
      );
    }
    const { rows } = await db.pool.query<Column>(
      `select c.table_schema || '.' || c.table_name as table, c.column_name as column,
              has_column_privilege('hasura', format('%I.%I', c.table_schema, c.table_name), c.column_name, 'SELECT') as select,
              has_column_privilege('hasura', format('%I.%I', c.table_schema, c.table_name), c.column_name, 'UPDATE') as update
         from information_schema.columns c where c.table_schema in ('public', 'pooled')`,
    );
    columns = rows;
  });
  afterAll(async () => {
    await db?.close();
  });

  /**
   * Object relationships of a platform table: its foreign key (one column, or
   * several: a pooled table's composite key with tenant_id) -> the referenced
   * table and columns, checked against pg_constraint.
   */
  async function relationshipsOf(t: TableEntry): Promise<Record<string, Relationship>> {
    const out: Record<string, Relationship> = {};
    for (const rel of t.object_relationships ?? []) {
      const on = (rel.using as { foreign_key_constraint_on: string | string[] }).foreign_key_constraint_on;
      const fkColumns = typeof on === 'string' ? [on] : on;
      const { rows } = await db.pool.query<{ schema: string; target: string; pairs: [string, string][] }>(
        `select rn.nspname as schema, r.relname as target,
                (select json_agg(json_build_array(a.attname, ra.attname))
                   from unnest(k.conkey, k.confkey) as u (col, ref)
                   join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.col
                   join pg_attribute ra on ra.attrelid = k.confrelid and ra.attnum = u.ref) as pairs
           from pg_constraint k
           join pg_class r on r.oid = k.confrelid
           join pg_namespace rn on rn.oid = r.relnamespace
          where k.conrelid = format('%I.%I', $1::text, $2::text)::regclass and k.contype = 'f'
            and (select array_agg(a.attname::text order by a.attname) from pg_attribute a
                  where a.attrelid = k.conrelid and a.attnum = any (k.conkey))
              = (select array_agg(x order by x) from unnest($3::text[]) x)`,
        [t.table.schema ?? 'public', t.table.name, fkColumns],
      );
      expect(rows, `${t.table.name}.${rel.name}: no foreign key on ${fkColumns.join(', ')}`).toHaveLength(1);
      const { schema, target, pairs } = rows[0]!;
      // The column that names the row; the others (tenant_id) only pair up.
      const [column, targetColumn] = pairs.find(([c]) => c !== 'tenant_id') ?? pairs[0]!;
      const alsoJoin = Object.fromEntries(pairs.filter(([c]) => c !== column));
      out[rel.name] = { column, target: { schema, name: target }, targetColumn, alsoJoin };
    }
    return out;
  }

  const tenantColumnOf = (table: string) =>
    table === 'public.tenants' ? 'id' : columnsOf(table).includes('tenant_id') ? 'tenant_id' : undefined;

  it('tracks only tables that exist, with existing and granted columns and valid filters', async () => {
    for (const t of platform().tables) {
      const name = qualified(t.table);
      const cols = columnsOf(name);
      expect(cols.length, `${name} does not exist`).toBeGreaterThan(0);
      const relationships = await relationshipsOf(t);
      const relColumns = Object.fromEntries(Object.entries(relationships).map(([k, r]) => [k, columnsOf(qualified(r.target))]));
      for (const p of permissionsOf(t)) {
        const at = `${name} ${p.kind} ${p.role}`;
        const listed = p.permission['columns'];
        const permCols = listed === '*' ? cols : ((listed ?? []) as string[]);
        for (const c of permCols) {
          expect(cols, `${at}: column ${c}`).toContain(c);
          const granted = columns.find((x) => x.table === name && x.column === c)!;
          // Hasura fails at run time on a column the hasura role may not read or write.
          if (p.kind === 'select') expect(granted.select, `${at}: ${c} not granted to hasura`).toBe(true);
          if (p.kind === 'update') expect(granted.update, `${at}: ${c} not updatable by hasura`).toBe(true);
        }
        for (const key of ['filter', 'check'] as const) {
          if (p.permission[key] !== undefined) {
            expect(checkBoolExp(p.permission[key], { columns: cols, relationships: relColumns }), `${at} ${key}`).toEqual([]);
          }
        }
      }
    }
  });

  it('filters every tenant-scoped permission of every tenant role on X-Hasura-Tenant-Id', () => {
    const onTenant = (exp: unknown, col: string): boolean => {
      const e = exp as Record<string, unknown>;
      const direct = JSON.stringify(e[col]) === JSON.stringify({ _eq: 'X-Hasura-Tenant-Id' });
      return direct || (Array.isArray(e['_and']) && e['_and'].some((x) => onTenant(x, col)));
    };
    let checked = 0;
    for (const t of platform().tables) {
      const col = tenantColumnOf(qualified(t.table));
      if (!col) continue;
      for (const p of permissionsOf(t)) {
        if (PLATFORM_ROLES.has(p.role)) continue;
        for (const key of ['filter', 'check'] as const) {
          if (p.permission[key] === undefined) continue;
          expect(onTenant(p.permission[key], col), `${t.table.name} ${p.kind} ${p.role} ${key}`).toBe(true);
          checked++;
        }
        if (p.kind === 'insert') expect(p.permission['set'], `${t.table.name} insert ${p.role}`).toEqual({ [col]: 'x-hasura-tenant-id' });
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('lets no role select a password hash, a token hash or a secret', () => {
    for (const t of platform().tables) {
      for (const p of permissionsOf(t).filter((x) => x.kind === 'select')) {
        const listed = p.permission['columns'];
        const cols = listed === '*' ? columnsOf(qualified(t.table)) : (listed as string[]);
        expect(
          cols.filter((c) => SECRET_COLUMN.test(c)),
          `${t.table.name} ${p.role}`,
        ).toEqual([]);
      }
    }
    // And the database agrees, whatever the metadata says.
    const secret = columns.filter((c) => SECRET_COLUMN.test(c.column) && c.select);
    expect(secret.map((c) => `${c.table}.${c.column}`)).toEqual([]);
  });

  it('shows members no billing state, and owners their subscription', () => {
    const tenants = platform().tables.find((t) => t.table.name === 'tenants')!;
    const cols = (role: string) => (tenants.select_permissions ?? []).find((p) => p.role === role)?.permission['columns'] as string[];
    expect(cols('member').filter((c) => /subscription|billing|stripe|period|payment|grace|past_due|trial/.test(c))).toEqual([]);
    expect(cols('owner')).toEqual(expect.arrayContaining(['subscription_status', 'current_period_end', 'trial_ends_at']));
    expect(cols('anonymous')).toEqual(['id', 'name', 'slug', 'status', 'branding']);
  });

  /** Runs a role's filter as `hasura` with no hasura.user, the way Hasura runs a GraphQL query. */
  async function countAsHasura(t: TableEntry, filter: unknown, session: Record<string, string>): Promise<number> {
    const { sql, params } = filteredSelect(t.table, filter, { session, relationships: await relationshipsOf(t) });
    return withTransaction(db.pool, async (c) => {
      await enterPersona(c, { kind: 'hasura' });
      expect((await c.query(`select current_setting('hasura.user', true) as s`)).rows[0].s ?? '').toBe('');
      return (await c.query<{ n: number }>(sql, params)).rows[0]!.n;
    });
  }

  it('READ PATH: as hasura without hasura.user, each role filter yields exactly its tenant rows', async () => {
    // Schema tenants (registry rows only) and pooled tenants (registry and pooled rows):
    // each session sees exactly its tenant's rows of every table, none where it has none.
    const sessions = [a, b, pa, pb].map((t) => ({ tenant: t, userId: t.ownerId }));
    let proofs = 0;
    const pooledTables: string[] = [];
    for (const t of platform().tables) {
      const name = qualified(t.table);
      const col = tenantColumnOf(name);
      if (!col) continue;
      if (t.table.schema === 'pooled') pooledTables.push(t.table.name);
      const from = `${pg.escapeIdentifier(t.table.schema ?? 'public')}.${pg.escapeIdentifier(t.table.name)}`;
      const total = (await db.pool.query<{ n: number }>(`select count(*)::int as n from ${from}`)).rows[0]!.n;
      for (const p of (t.select_permissions ?? []).filter((x) => !PLATFORM_ROLES.has(x.role))) {
        let withRows = 0;
        for (const s of sessions) {
          const own = (
            await db.pool.query<{ n: number }>(`select count(*)::int as n from ${from} where ${pg.escapeIdentifier(col)} = $1`, [
              s.tenant.tenant.id,
            ])
          ).rows[0]!.n;
          const session = { 'x-hasura-role': p.role, 'x-hasura-tenant-id': s.tenant.tenant.id, 'x-hasura-user-id': s.userId };
          const seen = await countAsHasura(t, p.permission['filter'], session);
          expect(seen, `${name} as ${p.role} of ${s.tenant.tenant.slug}`).toBe(own);
          expect(total, `${name}: only one tenant has rows`).toBeGreaterThan(own);
          if (own > 0) withRows++;
          proofs++;
        }
        expect(withRows, `${name}: fewer than two tenants have rows to prove anything with`).toBeGreaterThanOrEqual(2);
      }
      for (const p of (t.select_permissions ?? []).filter((x) => PLATFORM_ROLES.has(x.role))) {
        expect(await countAsHasura(t, p.permission['filter'], { 'x-hasura-role': p.role }), `${name} as ${p.role}`).toBe(total);
      }
    }
    expect(pooledTables.sort()).toEqual(['channels', 'files', 'members', 'messages']);
    expect(proofs).toBeGreaterThanOrEqual(40);
  });

  it('READ PATH: a pooled member may change only their own rows', async () => {
    // A second member of pa, with a message of their own next to the owner's.
    const identity = (
      await db.pool.query<{ id: string }>(
        `insert into public.identities (email, name) values ('second@pooled-a.example.com', 'S') returning id`,
      )
    ).rows[0]!.id;
    await db.pool.query(
      `with m as (insert into pooled.members (tenant_id, identity_id, display_name) values ($1, $2, 'S') returning id)
       insert into pooled.messages (tenant_id, channel_id, member_id, body)
       select $1, c.id, m.id, 'mine' from m, pooled.channels c where c.tenant_id = $1`,
      [pa.tenant.id, identity],
    );
    const messages = platform().tables.find((t) => qualified(t.table) === 'pooled.messages')!;
    const update = (role: string) => (messages.update_permissions ?? []).find((p) => p.role === role)!.permission['filter'];
    const session = (role: string, user: string) => ({
      'x-hasura-role': role,
      'x-hasura-tenant-id': pa.tenant.id,
      'x-hasura-user-id': user,
    });
    expect(await countAsHasura(messages, update('member'), session('member', identity))).toBe(1);
    expect(await countAsHasura(messages, update('member'), session('member', pa.ownerId))).toBe(1);
    expect(await countAsHasura(messages, update('owner'), session('owner', pa.ownerId))).toBe(2);
    // pb's owner, naming pa's tenant in nothing but their own session, changes nothing of pa.
    const foreign = { 'x-hasura-role': 'owner', 'x-hasura-tenant-id': pb.tenant.id, 'x-hasura-user-id': pb.ownerId };
    expect(await countAsHasura(messages, update('owner'), foreign)).toBe(1);
  });

  it('READ PATH: identities show a tenant role only its own identity', async () => {
    const identities = platform().tables.find((t) => t.table.name === 'identities')!;
    for (const p of (identities.select_permissions ?? []).filter((x) => !PLATFORM_ROLES.has(x.role))) {
      const session = { 'x-hasura-role': p.role, 'x-hasura-tenant-id': a.tenant.id, 'x-hasura-user-id': memberOfA };
      expect(await countAsHasura(identities, p.permission['filter'], session)).toBe(1);
    }
  });

  it('fails closed for an anonymous session without a tenant (the platform host)', async () => {
    const tenants = platform().tables.find((t) => t.table.name === 'tenants')!;
    const anonymous = (tenants.select_permissions ?? []).find((p) => p.role === 'anonymous')!;
    // Hasura refuses a query whose permission names a session variable the session lacks.
    await expect(countAsHasura(tenants, anonymous.permission['filter'], { 'x-hasura-role': 'anonymous' })).rejects.toThrow(
      /missing session variable/,
    );
  });
});
