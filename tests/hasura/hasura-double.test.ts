// Metadata schema validation, the /v1/metadata double and the CLI metadata-dir loader. No database.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHasuraDouble, type HasuraDouble } from '../support/hasura-double.ts';
import { checkBoolExp, checkMetadataPermissions, validateMetadata, validateMetadataRequest } from '../support/hasura-schema.ts';
import { loadMetadataDir } from '../support/metadata-dir.ts';

const FIXTURE_DIR = fileURLToPath(new URL('./fixtures/metadata-min', import.meta.url));
const SECRET = 'test-admin-secret';

const addSource = {
  type: 'pg_add_source',
  args: {
    name: 'default',
    configuration: {
      connection_info: {
        database_url: { from_env: 'PG_DATABASE_URL' },
        isolation_level: 'read-committed',
        use_prepared_statements: false,
        pool_settings: { max_connections: 50, idle_timeout: 180, retries: 1 },
      },
    },
  },
};
const track = (name: string, source = 'default') => ({ type: 'pg_track_table', args: { source, table: { schema: 'public', name } } });
const selectPermission = (filter: unknown) => ({
  type: 'pg_create_select_permission',
  args: { source: 'default', table: { schema: 'public', name: 'orders' }, role: 'user', permission: { columns: '*', filter } },
});
const objectRelationship = {
  type: 'pg_create_object_relationship',
  args: { source: 'default', table: 'orders', name: 'customer', using: { foreign_key_constraint_on: 'customer_id' } },
};
const arrayRelationship = {
  type: 'pg_create_array_relationship',
  args: {
    source: 'default',
    table: { schema: 'public', name: 'customers' },
    name: 'orders',
    using: { foreign_key_constraint_on: { table: { schema: 'public', name: 'orders' }, columns: ['customer_id'] } },
  },
};

interface Reply {
  status: number;
  body: unknown;
}

describe('Hasura metadata API double', () => {
  let hasura: HasuraDouble;

  async function post(body: unknown, secret: string | null = SECRET): Promise<Reply> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (secret !== null) headers['x-hasura-admin-secret'] = secret;
    const res = await fetch(hasura.metadataUrl, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  }

  async function setup(): Promise<void> {
    for (const body of [addSource, track('customers'), track('orders')]) {
      expect(await post(body)).toEqual({ status: 200, body: { message: 'success' } });
    }
  }

  beforeAll(async () => {
    hasura = await startHasuraDouble({ adminSecret: SECRET });
  });
  afterAll(async () => {
    await hasura.close();
  });
  beforeEach(() => hasura.reset());

  it('answers /healthz', async () => {
    const res = await fetch(`${hasura.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('OK');
  });

  it('applies valid requests, records them and bumps resource_version', async () => {
    expect(hasura.resourceVersion).toBe(1);
    await setup();
    expect(await post(selectPermission({ tenant_id: { _eq: 'X-Hasura-Tenant-Id' } }))).toEqual({
      status: 200,
      body: { message: 'success' },
    });
    expect((await post(objectRelationship)).status).toBe(200);
    expect((await post(arrayRelationship)).status).toBe(200);
    expect(hasura.resourceVersion).toBe(7);
    expect(hasura.requests).toHaveLength(6);

    const exported = await post({ type: 'export_metadata', version: 2, args: {} });
    expect(exported.status).toBe(200);
    expect(exported.body).toMatchObject({ resource_version: 7, metadata: { version: 3 } });
    const metadata = hasura.metadata();
    expect((exported.body as { metadata: unknown }).metadata).toEqual(metadata);
    const source = metadata.sources[0];
    expect(source?.tables.map((t) => t.table.name)).toEqual(['customers', 'orders']);
    const orders = source?.tables.find((t) => t.table.name === 'orders');
    expect(orders?.select_permissions).toEqual([
      { role: 'user', permission: { columns: '*', filter: { tenant_id: { _eq: 'X-Hasura-Tenant-Id' } } } },
    ]);
    expect(orders?.object_relationships?.[0]?.name).toBe('customer');
    expect(validateMetadata(metadata)).toEqual([]);
    expect(checkMetadataPermissions(metadata)).toEqual([]);

    // export_metadata v1 is the bare metadata and does not count as a write
    expect(await post({ type: 'export_metadata', args: {} })).toEqual({ status: 200, body: metadata });
    expect(hasura.resourceVersion).toBe(7);
  });

  it('rejects a missing or wrong admin secret with 401 and changes nothing', async () => {
    const wrong = await post(addSource, 'nope');
    expect(wrong).toEqual({
      status: 401,
      body: { path: '$', error: 'invalid x-hasura-admin-secret/x-hasura-access-key', code: 'access-denied' },
    });
    expect((await post(addSource, null)).status).toBe(401);
    expect(hasura.metadata().sources).toEqual([]);
    expect(hasura.resourceVersion).toBe(1);
    expect(hasura.requests).toHaveLength(2);
  });

  it('rejects an unknown type with 400', async () => {
    const reply = await post({ type: 'pg_frobnicate_table', args: {} });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'parse-failed', path: '$.type', error: expect.stringContaining('unknown metadata command') });
  });

  it('rejects pg_add_source whose configuration is invalid per Hasura schema', async () => {
    const missing = await post({ type: 'pg_add_source', args: { name: 'default', configuration: { database_url: 'postgres://x' } } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({
      code: 'parse-failed',
      path: '$.args.configuration',
      error: expect.stringContaining('connection_info'),
    });

    const wrongType = await post({
      type: 'pg_add_source',
      args: {
        name: 'default',
        configuration: { connection_info: { database_url: { from_env: 'PG_DATABASE_URL' }, pool_settings: { max_connections: 'fifty' } } },
      },
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body).toMatchObject({ path: '$.args.configuration.connection_info.pool_settings.max_connections' });

    const badIsolation = await post({
      type: 'pg_add_source',
      args: { name: 'default', configuration: { connection_info: { database_url: 'postgres://x', isolation_level: 'read-uncommitted' } } },
    });
    expect(badIsolation.status).toBe(400);
    expect(hasura.metadata().sources).toEqual([]);
  });

  it('rejects a duplicate source unless replace_configuration is set', async () => {
    await setup();
    expect(await post(addSource)).toEqual({
      status: 400,
      body: { path: '$.args', error: 'source with name "default" already exists', code: 'already-exists' },
    });
    const replaced = await post({ ...addSource, args: { ...addSource.args, replace_configuration: true } });
    expect(replaced.status).toBe(200);
    expect(hasura.metadata().sources[0]?.tables).toHaveLength(2);
  });

  it('rejects tracking a table on a missing source, and duplicate tracking', async () => {
    const reply = await post(track('orders', 'tenant_db'));
    expect(reply).toEqual({
      status: 400,
      body: { path: '$.args', error: 'source with name "tenant_db" does not exist', code: 'not-exists' },
    });
    await setup();
    expect((await post(track('orders'))).body).toMatchObject({ code: 'already-tracked' });
  });

  it('answers 409 on a stale resource_version and applies a current one', async () => {
    await setup(); // resource_version 1 → 4
    const stale = await post({ ...track('items'), resource_version: 2 });
    expect(stale).toEqual({
      status: 409,
      body: { path: '$', error: 'metadata resource version referenced (2) did not match current version', code: 'conflict' },
    });
    expect(hasura.metadata().sources[0]?.tables).toHaveLength(2);
    expect(hasura.resourceVersion).toBe(4);
    expect((await post({ ...track('items'), resource_version: 4 })).status).toBe(200);
    expect(hasura.resourceVersion).toBe(5);
  });

  it('rejects permission rules with unknown operators or misspelt session variables', async () => {
    await setup();
    const typo = await post(selectPermission({ tenant_id: { _eqq: 'X-Hasura-Tenant-Id' } }));
    expect(typo.status).toBe(400);
    expect(typo.body).toMatchObject({ path: '$.args.permission.filter.tenant_id._eqq' });
    expect((await post(selectPermission({ tenant_id: { _eq: 'X-Hasra-Tenant-Id' } }))).status).toBe(400);
    const admin = await post({ ...selectPermission({}), args: { ...selectPermission({}).args, role: 'admin' } });
    expect(admin.body).toMatchObject({ code: 'constraint-violation' });
  });

  it('bulk runs in order and keeps nothing when a command fails', async () => {
    const reply = await post({ type: 'bulk', args: [addSource, track('orders', 'nope'), track('customers')] });
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ code: 'not-exists', path: '$.args[1].args' });
    expect(hasura.metadata().sources).toEqual([]);
    expect(hasura.resourceVersion).toBe(1);

    const ok = await post({ type: 'bulk', args: [addSource, track('orders')] });
    expect(ok).toEqual({ status: 200, body: [{ message: 'success' }, { message: 'success' }] });
    expect(hasura.resourceVersion).toBe(2);
  });

  it('bulk_keep_going reports failures per command and keeps the successes', async () => {
    const reply = await post({ type: 'bulk_keep_going', args: [addSource, track('orders', 'nope'), track('orders')] });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual([
      { message: 'success' },
      { path: '$.args[1].args', error: 'source with name "nope" does not exist', code: 'not-exists' },
      { message: 'success' },
    ]);
    expect(hasura.metadata().sources[0]?.tables.map((t) => t.table.name)).toEqual(['orders']);
  });

  it('bulk_atomic is all or nothing and only takes the commands Hasura allows there', async () => {
    await setup();
    const broken = await post({
      type: 'bulk_atomic',
      args: [objectRelationship, { ...arrayRelationship, args: { ...arrayRelationship.args, table: 'missing' } }],
    });
    expect(broken.status).toBe(400);
    expect(hasura.metadata().sources[0]?.tables.every((t) => t.object_relationships === undefined)).toBe(true);

    expect(await post({ type: 'bulk_atomic', args: [objectRelationship, arrayRelationship] })).toEqual({
      status: 200,
      body: { message: 'success' },
    });
    const unsupported = await post({ type: 'bulk_atomic', args: [track('items')] });
    expect(unsupported).toMatchObject({ status: 500, body: { code: 'unexpected', error: 'Bulk atomic does not support this command' } });
  });

  it('untracking a relationship target needs cascade', async () => {
    await setup();
    await post(arrayRelationship);
    const blocked = await post({ type: 'pg_untrack_table', args: { table: 'orders' } });
    expect(blocked.body).toMatchObject({ code: 'dependency-error' });
    expect((await post({ type: 'pg_untrack_table', args: { table: 'orders', cascade: true } })).status).toBe(200);
    expect(hasura.metadata().sources[0]?.tables).toEqual([{ table: { schema: 'public', name: 'customers' } }]);
  });

  it('replace_metadata / reload_metadata / failOn', async () => {
    const metadata = await loadMetadataDir(FIXTURE_DIR);
    const replaced = await post({ type: 'replace_metadata', version: 2, args: { allow_inconsistent_metadata: false, metadata } });
    expect(replaced).toEqual({ status: 200, body: { is_consistent: true, inconsistent_objects: [] } });
    expect(hasura.metadata()).toEqual(metadata);

    const invalid = await post({ type: 'replace_metadata', version: 2, args: { metadata: { version: 3, sources: {} } } });
    expect(invalid).toMatchObject({ status: 400, body: { path: '$.args.metadata.sources' } });

    expect(await post({ type: 'reload_metadata', args: { reload_sources: true } })).toEqual({
      status: 200,
      body: { message: 'success', is_consistent: true },
    });

    hasura.failOn('pg_track_table', 1, 503);
    expect(await post(track('items'))).toMatchObject({ status: 503, body: { code: 'unexpected' } });
    expect((await post(track('items'))).status).toBe(200);
  });

  it('reports marked inconsistent objects until they leave the metadata or are dropped', async () => {
    await setup();
    hasura.markInconsistent({ source: 'default', table: { schema: 'public', name: 'orders' } });
    const listed = await post({ type: 'get_inconsistent_metadata', args: {} });
    expect(listed).toMatchObject({
      status: 200,
      body: {
        is_consistent: false,
        inconsistent_objects: [
          { type: 'table', name: 'table public.orders in source default', definition: { schema: 'public', name: 'orders' } },
        ],
      },
    });
    expect((await post({ type: 'reload_metadata', args: {} })).body).toMatchObject({ is_consistent: false });
    // Untracking the table takes its inconsistency with it.
    expect((await post({ type: 'pg_untrack_table', args: { source: 'default', table: 'orders' } })).status).toBe(200);
    expect((await post({ type: 'get_inconsistent_metadata', args: {} })).body).toEqual({ is_consistent: true, inconsistent_objects: [] });

    hasura.markInconsistent({ source: 'default' });
    expect((await post({ type: 'drop_inconsistent_metadata', args: {} })).status).toBe(200);
    expect(hasura.metadata().sources).toEqual([]);
    expect((await post({ type: 'get_inconsistent_metadata', args: {} })).body).toMatchObject({ is_consistent: true });
  });

  it('unreachable: connections are dropped without an answer', async () => {
    hasura.unreachable(true);
    await expect(post({ type: 'export_metadata', args: {} })).rejects.toThrow();
    hasura.unreachable(false);
    expect((await post({ type: 'export_metadata', args: {} })).status).toBe(200);
  });
});

describe('validateMetadata', () => {
  it('rejects obviously wrong metadata', () => {
    expect(validateMetadata({ version: 4, sources: [] })).not.toEqual([]);
    expect(validateMetadata({ version: 3, sources: { default: {} } })).toContain('/sources must be array');
    expect(validateMetadata('metadata')).not.toEqual([]);
    const badSource = { version: 3, sources: [{ name: 'default', kind: 'postgres', tables: [], configuration: {} }] };
    expect(validateMetadata(badSource).join('\n')).toContain("/sources/0/configuration must have required property 'connection_info'");
  });

  it('accepts minimal metadata, including a postgres source without tables', () => {
    expect(validateMetadata({ version: 3, sources: [] })).toEqual([]);
    const source = { name: 'default', kind: 'postgres', tables: [], configuration: { connection_info: { database_url: 'postgres://x' } } };
    expect(validateMetadata({ version: 3, sources: [source] })).toEqual([]);
  });
});

describe('validateMetadataRequest', () => {
  it('checks the envelope and recurses into bulk', () => {
    expect(validateMetadataRequest({ type: 'reload_metadata', args: {} })).toEqual([]);
    expect(validateMetadataRequest({ type: 'pg_track_table', version: 2, args: { table: 'orders' } })).not.toEqual([]);
    expect(validateMetadataRequest({ type: 'pg_track_table', args: { table: 'orders' }, resource_verison: 3 })).not.toEqual([]);
    expect(validateMetadataRequest({ type: 'pg_track_table' })).not.toEqual([]);
    expect(validateMetadataRequest({ type: 'pg_drop_select_permission', args: { table: 'orders' } })).toEqual([
      "/args must have required property 'role'",
    ]);
    const nested = validateMetadataRequest({
      type: 'bulk',
      args: [
        { type: 'pg_track_table', args: { table: 'a' } },
        { type: 'nope', args: {} },
      ],
    });
    expect(nested).toEqual(['/args/1/type unknown metadata command "nope"']);
    expect(validateMetadataRequest({ type: 'export_metadata', version: 2, args: {} })).toEqual([]);
  });
});

describe('checkBoolExp', () => {
  const columns = ['id', 'tenant_id', 'customer_id', 'tags'];

  it('accepts tenant filters and the logical operators in both spellings', () => {
    expect(checkBoolExp({ tenant_id: { _eq: 'X-Hasura-Tenant-Id' } }, { columns })).toEqual([]);
    expect(checkBoolExp({}, { columns })).toEqual([]);
    const complex = {
      _and: [
        { tenant_id: { $eq: 'x-hasura-tenant-id' } },
        { _or: [{ id: { _in: 'X-Hasura-Allowed-Ids' } }, { _not: { customer_id: { _is_null: true } } }] },
        { _exists: { _table: { schema: 'public', name: 'memberships' }, _where: { user_id: { _eq: 'X-Hasura-User-Id' } } } },
        { customer: { tenant_id: { _ceq: ['$', 'tenant_id'] } } },
        { tags: { _has_keys_any: ['vip'] } },
      ],
    };
    expect(checkBoolExp(complex, { columns, relationships: { customer: ['id', 'tenant_id'] } })).toEqual([]);
  });

  it('rejects unknown operators, columns and bad session variables', () => {
    expect(checkBoolExp({ tenant_id: { _eqq: 'X-Hasura-Tenant-Id' } }, { columns })).toEqual([
      "/tenant_id/_eqq unknown comparison operator '_eqq'",
    ]);
    expect(checkBoolExp({ tenantid: { _eq: 'X-Hasura-Tenant-Id' } }, { columns })).toEqual([
      "/tenantid unknown column or relationship 'tenantid'",
    ]);
    expect(checkBoolExp({ tenant_id: { _eq: 'X-Hasra-Tenant-Id' } }, { columns })[0]).toContain('not a valid X-Hasura-* name');
    expect(checkBoolExp({ tenant_id: { _eq: 'x-hasura-' } }, { columns })).toHaveLength(1);
    expect(checkBoolExp({ _exists: { _where: {} } }, { columns })).toEqual(["/_exists must have required property '_table'"]);
    expect(checkBoolExp({ _and: { id: { _eq: 1 } } }, { columns })).toEqual(['/_and must be an array of boolean expressions']);
    expect(checkBoolExp({ id: { _in: 'not-a-session-var' } }, { columns })).toHaveLength(1);
    expect(checkBoolExp({ customer: { name: { _eq: 'x' } } }, { columns, relationships: { customer: ['id'] } })).toEqual([
      "/customer/name unknown column or relationship 'name'",
    ]);
  });
});

describe('loadMetadataDir', () => {
  it('merges the fixture directory into metadata that validates', async () => {
    const metadata = await loadMetadataDir(FIXTURE_DIR);
    expect(validateMetadata(metadata)).toEqual([]);
    expect(checkMetadataPermissions(metadata)).toEqual([]);
    const md = metadata as Record<string, unknown> & { sources: { tables: { table: { name: string } }[] }[] };
    expect(md.version).toBe(3);
    expect(md.sources[0]?.tables.map((t) => t.table.name)).toEqual(['customers', 'orders']);
    expect(md).not.toHaveProperty('cron_triggers'); // empty list files are omitted
    expect(md).not.toHaveProperty('allowlist');
    expect(md.sources[0]).not.toHaveProperty('functions');
    expect(md.actions).toEqual([
      {
        name: 'createOrder',
        definition: {
          type: 'mutation',
          arguments: [{ name: 'input', type: 'CreateOrderInput!' }],
          output_type: 'CreateOrderOutput',
          kind: 'synchronous',
          handler: '{{ACTIONS_BASE_URL}}/createOrder',
          headers: [{ name: 'X-Action-Secret', value_from_env: 'ACTION_SECRET' }],
          timeout: 30,
        },
        permissions: [{ role: 'user' }],
        comment: 'creates an order',
      },
      {
        name: 'orderStatus',
        definition: {
          type: 'query',
          arguments: [{ name: 'orderId', type: 'uuid!' }],
          output_type: 'OrderStatusOutput',
          kind: 'synchronous',
          handler: '{{ACTIONS_BASE_URL}}/orderStatus',
        },
        permissions: [{ role: 'user' }],
      },
    ]);
    expect(md.custom_types).toMatchObject({
      input_objects: [
        {
          name: 'CreateOrderInput',
          fields: [
            { name: 'productId', type: 'uuid!' },
            { name: 'qty', type: 'Int!' },
          ],
        },
      ],
      enums: [{ name: 'OrderStatus', values: [{ value: 'PENDING' }, { value: 'PAID' }] }],
      scalars: [{ name: 'uuid' }],
    });

    // per-table permission rules against the table's columns
    const orders = {
      columns: ['id', 'tenant_id', 'customer_id', 'note', 'total'],
      relationships: { customer: ['id', 'name', 'tenant_id'] },
    };
    const ordersFilter = (metadata as { sources: { tables: { select_permissions?: { permission: { filter: unknown } }[] }[] }[] })
      .sources[0]?.tables[1]?.select_permissions?.[0]?.permission.filter;
    expect(checkBoolExp(ordersFilter, orders)).toEqual([]);
  });

  it('handles missing optional files and rejects actions missing from actions.graphql', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'metadata-dir-'));
    try {
      await writeFile(join(dir, 'version.yaml'), 'version: 3\n');
      expect(await loadMetadataDir(dir)).toEqual({ version: 3, sources: [] });
      await writeFile(join(dir, 'actions.graphql'), 'type Mutation { a(x: Int): Out }\ntype Out { y: Int }\n');
      await writeFile(join(dir, 'actions.yaml'), 'actions:\n  - name: b\n    definition: {handler: http://x}\n');
      await expect(loadMetadataDir(dir)).rejects.toThrow(/action b is not present in actions.graphql/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
