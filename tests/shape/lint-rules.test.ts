// Every lint rule has a negative case: one deliberately bad object, created in a
// transaction on a scratch database with one schema tenant, must trip exactly
// that rule on exactly that object (compared with the lint of the database
// before the object existed), so no rule can pass vacuously.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectViolations, lintDatabase, loadLintRules, type LintViolation } from '../../actions-server/src/db/lint.ts';
import { migrateUp } from '../../actions-server/src/db/migrate.ts';
import { createTestDb, useTestDb } from '../support/db.ts';
import { makeTenant } from '../support/factories.ts';

let role: string;
/** The lint of the scratch database as it stands: every case runs in a transaction that is rolled back, so it stays this. */
let baseline: Set<string>;
const SCHEMA = 'tenant_lintco';

const fx = useTestDb();
beforeAll(async () => {
  const { tenant } = await makeTenant(fx.db, 'lintco');
  role = tenant.db_role!;
  const client = await fx.db.pool.connect();
  try {
    await client.query('begin');
    baseline = new Set((await collectViolations(client)).violations.map(key));
  } finally {
    await client.query('rollback');
    client.release();
  }
});

const key = (v: LintViolation) => JSON.stringify([v.rule, v.object, v.detail]);

/** The violations `sql` adds, run and linted in one transaction that is rolled back. */
async function addedViolations(sql: string): Promise<LintViolation[]> {
  const client = await fx.db.pool.connect();
  try {
    await client.query('begin');
    await client.query(sql);
    return (await collectViolations(client)).violations.filter((v) => !baseline.has(key(v)));
  } finally {
    await client.query('rollback');
    client.release();
  }
}

// A well-shaped pooled table pair: what every pooled-table case starts from
// (next to the pooled tier's own tables, which the migrations create).
const POOLED = `
  create schema if not exists pooled;
  create table pooled.boards (
    tenant_id uuid not null references public.tenants (id) on delete cascade,
    id uuid not null default gen_random_uuid(),
    name text not null,
    primary key (tenant_id, id),
    unique (tenant_id, name));
  create table pooled.cards (
    tenant_id uuid not null,
    id uuid not null default gen_random_uuid(),
    board_id uuid not null,
    primary key (tenant_id, id),
    foreign key (tenant_id, board_id) references pooled.boards (tenant_id, id) on delete cascade);
  create index on pooled.cards (tenant_id, board_id);
  select public.enable_tenant_rls('pooled.boards');
  select public.enable_tenant_rls('pooled.cards');
  grant usage on schema pooled to app, hasura;
  grant select, insert (tenant_id, name), update (name), delete on pooled.boards to app, hasura;`;

const GLOBAL_TABLE = (columns: string) => `
  create table public.widgets (${columns});
  alter table public.widgets enable row level security;
  alter table public.widgets force row level security;`;

interface Case {
  name: string;
  sql: () => string;
  /** The object reported; a function where it is known only once the tenant exists. */
  object: string | (() => string);
}

const CASES: Record<string, Case[]> = {
  rls_disabled: [
    { name: 'a new table without RLS', sql: () => 'create table public.widgets (id uuid primary key)', object: 'public.widgets' },
    {
      name: 'RLS turned off on a tenant template table',
      sql: () => `alter table ${SCHEMA}.channels disable row level security`,
      object: `${SCHEMA}.channels`,
    },
  ],
  rls_not_forced: [
    {
      name: 'FORCE removed from a tenant template table',
      sql: () => `alter table ${SCHEMA}.channels no force row level security`,
      object: `${SCHEMA}.channels`,
    },
    {
      name: 'FORCE removed from a registry table',
      sql: () => 'alter table public.memberships no force row level security',
      object: 'public.memberships',
    },
  ],
  tenant_table_without_policy: [
    {
      name: 'app granted a table with no policy for app',
      sql: () => `${GLOBAL_TABLE('id uuid primary key')} grant select on public.widgets to app;`,
      object: 'public.widgets',
    },
  ],
  table_privilege_bypasses_rls: [
    { name: 'TRUNCATE granted to app', sql: () => 'grant truncate on public.memberships to app', object: 'public.memberships' },
    {
      name: 'TRIGGER granted to a tenant role on its own table',
      sql: () => `grant trigger on ${SCHEMA}.messages to ${role}`,
      object: `${SCHEMA}.messages`,
    },
  ],
  schema_create_granted: [
    { name: 'CREATE on public for hasura', sql: () => 'grant create on schema public to hasura', object: 'public' },
    { name: 'CREATE on a tenant schema for PUBLIC', sql: () => `grant create on schema ${SCHEMA} to public`, object: SCHEMA },
  ],
  security_definer_search_path: [
    {
      name: 'security definer without search_path',
      sql: () => `create function public.bad_definer() returns int language sql security definer as 'select 1';
                  revoke all on function public.bad_definer() from public;`,
      object: 'public.bad_definer()',
    },
    {
      name: 'security definer whose search_path lets pg_temp come first',
      sql: () => `create function public.loose_definer(p uuid) returns int language sql security definer
                    set search_path = public as 'select 1';
                  revoke all on function public.loose_definer(uuid) from public;`,
      object: 'public.loose_definer(p uuid)',
    },
  ],
  security_definer_public_execute: [
    {
      name: 'security definer left executable by PUBLIC',
      sql: () => `create function public.open_definer() returns int language sql security definer
                    set search_path = pg_catalog, public, pg_temp as 'select 1';`,
      object: 'public.open_definer()',
    },
  ],
  view_without_security_invoker: [
    {
      name: 'a view over tenant data running with its owner rights',
      sql: () => `create view public.member_roles as select tenant_id, identity_id, role from public.memberships;
                  grant select on public.member_roles to app;`,
      object: 'public.member_roles',
    },
    {
      name: 'a materialized view in a tenant schema',
      sql: () => `create materialized view ${SCHEMA}.channel_names as select name from ${SCHEMA}.channels`,
      object: `${SCHEMA}.channel_names`,
    },
  ],
  role_bypasses_rls: [{ name: 'a tenant role with BYPASSRLS', sql: () => `alter role ${role} bypassrls`, object: () => role }],
  role_is_superuser: [{ name: 'a tenant role made superuser', sql: () => `alter role ${role} superuser`, object: () => role }],
  role_can_escalate: [
    { name: 'a tenant role that can become app', sql: () => `grant app to ${role}`, object: () => role },
    { name: 'a tenant role with CREATEROLE', sql: () => `alter role ${role} createrole`, object: () => role },
  ],
  secret_column_readable: [
    {
      name: 'password hashes readable by hasura',
      sql: () => 'grant select (password_hash) on public.identities to hasura',
      object: 'public.identities.password_hash',
    },
    {
      name: 'a token hash column readable through a table-wide grant',
      sql: () => `${GLOBAL_TABLE('id uuid primary key, token_hash bytea')}
                  create policy widgets_read on public.widgets for select to app using (true);
                  grant select on public.widgets to app;`,
      object: 'public.widgets.token_hash',
    },
  ],
  credential_column: [
    {
      name: 'a database tenant connection string in the registry',
      sql: () => 'alter table public.tenants add column database_url text',
      object: 'public.tenants.database_url',
    },
    {
      name: 'a plain password column',
      sql: () => 'alter table public.identities add column password text',
      object: 'public.identities.password',
    },
  ],
  policy_with_subquery: [
    {
      name: 'a policy with EXISTS (select ...)',
      sql: () => `create policy app_member_only on public.tenant_settings for select to app
                    using (exists (select 1 from public.memberships m
                                   where m.tenant_id = tenant_settings.tenant_id
                                     and m.identity_id = public.current_user_id()))`,
      object: 'app_member_only on public.tenant_settings',
    },
    {
      name: 'a policy calling a function that reads tables',
      sql: () => `create function public.is_member(p_tenant uuid) returns boolean language sql stable
                    as 'select exists (select 1 from public.memberships where tenant_id = p_tenant)';
                  create policy app_member_fn on public.tenant_settings for select to app
                    using (public.is_member(tenant_id))`,
      object: 'app_member_fn on public.tenant_settings',
    },
  ],
  pooled_key_without_tenant: [
    {
      name: 'a unique constraint without tenant_id',
      sql: () => `${POOLED} alter table pooled.boards add constraint boards_name_key unique (name);`,
      object: 'pooled.boards.boards_name_key',
    },
    {
      name: 'a registry table keyed by tenant_id without a primary key',
      sql: () => `${GLOBAL_TABLE('tenant_id uuid not null, note text')}
                  create index on public.widgets (tenant_id);`,
      object: 'public.widgets',
    },
  ],
  tenant_id_without_index: [
    {
      name: 'tenant_id only second in the primary key',
      sql: () => `${POOLED} create table pooled.tags (tenant_id uuid not null, id uuid not null, primary key (id, tenant_id));
                  select public.enable_tenant_rls('pooled.tags');`,
      object: 'pooled.tags',
    },
  ],
  pooled_fk_without_tenant: [
    {
      name: 'a foreign key pairing tenant_id with id',
      sql: () => `${POOLED} create table pooled.tags (tenant_id uuid not null, id uuid not null, card_id uuid not null,
                    primary key (tenant_id, id),
                    constraint tags_card_fkey foreign key (card_id, tenant_id) references pooled.cards (tenant_id, id));
                  select public.enable_tenant_rls('pooled.tags');`,
      object: 'pooled.tags.tags_card_fkey',
    },
  ],
  fk_bad_action: [
    {
      name: 'ON UPDATE CASCADE between pooled tables',
      sql: () => `${POOLED} create table pooled.tags (tenant_id uuid not null, id uuid not null, card_id uuid not null,
                    primary key (tenant_id, id),
                    constraint tags_card_fkey foreign key (tenant_id, card_id) references pooled.cards (tenant_id, id)
                      on update cascade);
                  select public.enable_tenant_rls('pooled.tags');`,
      object: 'pooled.tags.tags_card_fkey',
    },
  ],
  global_fk_into_tenant: [
    {
      name: 'a registry table referencing a tenant table',
      sql: () =>
        `${GLOBAL_TABLE(`id uuid primary key, channel_id uuid constraint widgets_channel_fkey references ${SCHEMA}.channels (id)`)}`,
      object: 'public.widgets.widgets_channel_fkey',
    },
  ],
  int_id: [
    {
      name: 'a serial id',
      sql: () => GLOBAL_TABLE('id serial primary key'),
      object: 'public.widgets.id',
    },
    {
      name: 'an integer reference column in a tenant table',
      sql: () => `alter table ${SCHEMA}.files add column legacy_id integer`,
      object: `${SCHEMA}.files.legacy_id`,
    },
  ],
  template_cross_schema_reference: [
    {
      name: 'a tenant table referencing a tenant-keyed registry table',
      sql: () => `alter table ${SCHEMA}.channels add column settings_tenant uuid references public.tenant_settings (tenant_id)`,
      object: `${SCHEMA}.channels`,
    },
    {
      name: 'a tenant table drawing ids from a shared sequence',
      sql: () => `create sequence public.shared_seq;
                  alter table ${SCHEMA}.messages add column seq bigint default nextval('public.shared_seq')`,
      object: `${SCHEMA}.messages`,
    },
  ],
};

const objectOf = (c: Case) => (typeof c.object === 'function' ? c.object() : c.object);

it('has a negative case for every rule', async () => {
  const { rules } = await loadLintRules();
  expect(Object.keys(CASES).sort()).toEqual(rules.map((r) => r.name).sort());
});

describe.each(Object.entries(CASES))('%s', (rule, cases) => {
  it.each(cases.map((c) => [c.name, c] as const))('trips on %s', async (_name, c) => {
    const added = await addedViolations(c.sql());
    expect(added.map((v) => ({ rule: v.rule, object: v.object }))).toEqual([{ rule, object: objectOf(c) }]);
  });
});

it('passes well-shaped pooled tables and a template reference to a global table', async () => {
  expect(
    await addedViolations(`${POOLED}
      alter table ${SCHEMA}.members add constraint members_identity_fkey
        foreign key (identity_id) references public.identities (id) on delete cascade;`),
  ).toEqual([]);
});

// The acceptance scenarios, as a scratch migration applied by the real runner.
describe('a scratch migration that breaks a rule makes the lint fail', () => {
  async function lintAfterMigration(sql: string) {
    const scratch = await createTestDb();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'shape-migration-'));
    try {
      await makeTenant(scratch, 'scratchco');
      await mkdir(path.join(dir, '1999999999999_scratch'));
      await writeFile(path.join(dir, '1999999999999_scratch', 'up.sql'), sql);
      expect(await migrateUp(scratch.pool, { dir })).toEqual(['1999999999999_scratch']);
      return await lintDatabase(scratch.pool);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await scratch.close();
    }
  }

  it('removing force row level security from a tenant table', async () => {
    const report = await lintAfterMigration(
      'alter table public.tenant_settings no force row level security;\n' +
        'alter table tenant_scratchco.files no force row level security;',
    );
    expect(report.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ rule: 'rls_not_forced', object: 'public.tenant_settings' }),
        expect.objectContaining({ rule: 'rls_not_forced', object: 'tenant_scratchco.files' }),
      ]),
    );
  });

  it('adding a security definer function without search_path', async () => {
    const report = await lintAfterMigration(
      `create or replace function public.tenant_count() returns bigint language sql security definer
         as 'select count(*) from public.tenants';
       revoke all on function public.tenant_count() from public;`,
    );
    expect(report.violations).toEqual(
      expect.arrayContaining([expect.objectContaining({ rule: 'security_definer_search_path', object: 'public.tenant_count()' })]),
    );
  });
});
