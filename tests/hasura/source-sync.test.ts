// Tenant sources stay true to the tenants (against the /v1/metadata double):
// template upgrades reach Hasura (retried when it fails or is down), the
// lifecycle drops and restores sources, a move swaps its source without the
// namespace ever missing, heavy operations on one tenant exclude each other,
// and reconcile finds and repairs injected drift.
import { spawn } from 'node:child_process';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, passwordlessLogin, startTestServer, type TestDb } from '../support/db.ts';
import { startHasuraDouble, type HasuraDouble, type SourceEntry } from '../support/hasura-double.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { createLogger } from '../../actions-server/src/core/log.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import { TEMPLATE_DIR } from '../../actions-server/src/tenants/template.ts';
import { migrateTenantSchemas } from '../../actions-server/src/tenants/template-migrate.ts';
import { hasuraExposure } from '../../actions-server/src/hasura/wiring.ts';
import type { ExposureDeps } from '../../actions-server/src/hasura/exposure.ts';
import { HASURA_JOBS } from '../../actions-server/src/hasura/jobs.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { reconcile } from '../../actions-server/src/hasura/reconcile.ts';
import { UnknownMetadataVersion } from '../../actions-server/src/hasura/sync.ts';
import { createMetadataClient } from '../../actions-server/src/hasura/client.ts';
import { changeStatus, hardDeleteTenant } from '../../actions-server/src/tenants/service.ts';
import { withTenantLock } from '../../actions-server/src/tenants/lock.ts';
import { requestMove } from '../../actions-server/src/tenants/move/request.ts';
import { runMove } from '../../actions-server/src/tenants/move/run.ts';

const SECRET = 'source-sync-admin-secret';
const NEXT = 9001;
const ROLES = ['member', 'owner', 'tenant_admin'];

let db: TestDb;
let hasura: HasuraDouble;
let srv: RunningServer;
let deps: ExposureDeps;
let serverEnv: Record<string, string>;
let nextTemplate: string;

beforeAll(async () => {
  db = await createTestDb();
  hasura = await startHasuraDouble({ adminSecret: SECRET });
  const tenantDbUrl = await passwordlessLogin(db, `${db.rolePrefix}hasura_login`);
  serverEnv = {
    HASURA_GRAPHQL_ENDPOINT: `${hasura.url}/v1/graphql`,
    HASURA_GRAPHQL_ADMIN_SECRET: SECRET,
    HASURA_TENANT_DATABASE_URL: tenantDbUrl,
    HASURA_METADATA_TIMEOUT_MS: '5000',
    // "Another server" for database tenants: this one, reached through its own setting.
    TENANT_DATABASE_URL_EU: db.adminUrl,
    HASURA_TENANT_DATABASE_URL_EU: tenantDbUrl,
  };
  srv = await startTestServer(db, serverEnv);
  deps = { ...hasuraExposure(srv.ctx.env, db.pool, createLogger('silent'), srv.ctx.databases)!, sleep: () => Promise.resolve() };
  nextTemplate = await mkdtemp(path.join(os.tmpdir(), 'template-next-'));
  await cp(TEMPLATE_DIR, nextTemplate, { recursive: true });
  await writeFile(
    path.join(nextTemplate, `${NEXT}_pins.sql`),
    `alter table channels add column topic text;
     create table pins (
       id uuid primary key default gen_random_uuid(),
       message_id uuid not null references messages (id) on delete cascade,
       note text,
       created_at timestamptz not null default now()
     );`,
  );
});
afterAll(async () => {
  await srv?.close();
  await hasura?.close();
  await db?.close();
});

const make = (slug: string, isolation?: 'schema' | 'database') =>
  makeTenant(db, slug, {
    steps: srv.ctx.provisioningSteps,
    ...(srv.ctx.sourceCapacity ? { capacity: srv.ctx.sourceCapacity } : {}),
    ...(isolation ? { isolation } : {}),
  });
const sourceOf = (slug: string): SourceEntry | undefined => hasura.metadata().sources.find((s) => s.name === `tenant_${slug}`);
const tableOf = (slug: string, name: string) => sourceOf(slug)?.tables.find((t) => t.table.name === name);
const rolesOf = (slug: string, table: string, kind: 'select' | 'insert' | 'update' | 'delete') =>
  (tableOf(slug, table)?.[`${kind}_permissions`] ?? []).map((p) => p.role).sort();
const registered = async (made: MadeTenant) =>
  (
    await db.pool.query<{ synced_version: string | null }>('select synced_version from public.hasura_tenant_sources where tenant_id = $1', [
      made.tenant.id,
    ])
  ).rows[0];
const dueNow = () => db.pool.query('update graphile_worker._private_jobs set run_at = now() where locked_at is null');
const runJobs = async () => {
  await dueNow();
  await runDueJobs(srv.ctx, HASURA_JOBS);
};
const bulks = (from: number) => hasura.requests.slice(from).filter((r) => (r as { type: string }).type === 'bulk').length;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'actions-server/src/cli/main.ts', ...args], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      TENANT_ROLE_PREFIX: db.rolePrefix,
      LOG_LEVEL: 'error',
      JWT_SECRET: 'test-secret-that-is-long-enough-0123456789',
      BASE_DOMAIN: 'saas.test',
      NODE_ENV: 'test',
      ...serverEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

describe('template upgrades reach Hasura', () => {
  it('after tenants migrate every exposed tenant tracks the new table and column with the permission rules; failures are retried', async () => {
    const tenants = await Promise.all([make('up-a'), make('up-b'), make('up-d', 'database')]);
    const pooled = await makeTenant(db, 'up-pooled', { isolation: 'pooled' });
    expect(tableOf('up-a', 'pins')).toBeUndefined();

    // One tenant's bulk fails: reported, its GraphQL keeps the old shape, a retry is queued.
    hasura.failOn('pg_track_table', 1, 500);
    const before = hasura.requests.length;
    const seen: string[] = [];
    const report = await migrateTenantSchemas({
      pool: db.pool,
      databases: srv.ctx.databases,
      concurrency: 2,
      templateDir: nextTemplate,
      hasura: deps,
      onProgress: (_d, _t, slug, phase) => seen.push(`${phase}:${slug}`),
    });
    expect(report.failed).toEqual([]);
    expect(report.upgraded.sort()).toEqual(['up-a', 'up-b', 'up-d']);
    expect(report.metadata).toMatchObject({ total: 3, retryQueued: true });
    expect(report.metadata!.synced).toHaveLength(2);
    expect(report.metadata!.failed).toHaveLength(1);
    expect(seen.filter((s) => s.startsWith('metadata:'))).toHaveLength(3);
    expect(bulks(before)).toBe(3);
    const failedSlug = report.metadata!.failed[0]!.slug;
    expect(tableOf(failedSlug, 'pins')).toBeUndefined();
    expect(sourceOf(failedSlug)?.tables.length).toBeGreaterThan(0);
    expect(sourceOf('up-pooled')).toBeUndefined();

    await runJobs();
    for (const t of tenants) {
      const slug = t.tenant.slug;
      expect(tableOf(slug, 'pins'), slug).toBeDefined();
      expect(rolesOf(slug, 'pins', 'select')).toEqual(ROLES);
      expect(rolesOf(slug, 'pins', 'insert')).toEqual(['owner', 'tenant_admin']);
      expect(rolesOf(slug, 'pins', 'delete')).toEqual(['owner', 'tenant_admin']);
      expect(tableOf(slug, 'pins')?.object_relationships?.map((r) => r.name)).toEqual(['message']);
      expect(tableOf(slug, 'messages')?.array_relationships?.map((r) => r.name)).toContain('pins');
      const select = tableOf(slug, 'channels')?.select_permissions?.find((p) => p.role === 'member');
      expect(select?.permission['columns']).toContain('topic');
      expect(Number((await registered(t))?.synced_version)).toBe(NEXT);
    }
    expect(pooled.tenant.isolation).toBe('pooled');
  });

  it('Hasura unreachable: the schemas are upgraded, the metadata step is reported and finished once Hasura is back', async () => {
    await make('down-a');
    hasura.unreachable(true);
    try {
      const report = await migrateTenantSchemas({
        pool: db.pool,
        databases: srv.ctx.databases,
        concurrency: 2,
        templateDir: nextTemplate,
        hasura: deps,
      });
      expect(report.upgraded).toEqual(['down-a']);
      expect(report.metadata?.failed.map((f) => f.slug)).toEqual(['down-a']);
      expect(report.metadata?.failed[0]?.error).toMatch(/unreachable/);
      expect(report.metadata?.retryQueued).toBe(true);
      expect((await db.pool.query('select to_regclass($1) as t', ['"tenant_down-a".pins'])).rows[0].t).not.toBeNull();
    } finally {
      hasura.unreachable(false);
    }
    expect(tableOf('down-a', 'pins')).toBeUndefined();
    await runJobs();
    expect(rolesOf('down-a', 'pins', 'select')).toEqual(ROLES);
  });
});

describe('lifecycle', () => {
  it('cancel drops the source and frees its slot, suspension keeps it, reactivation restores it', async () => {
    const t = await make('life');
    await changeStatus(db.pool, t.tenant.id, 'suspend');
    await runJobs();
    expect(sourceOf('life')).toBeDefined();
    await changeStatus(db.pool, t.tenant.id, 'cancel');
    await runJobs();
    expect(sourceOf('life')).toBeUndefined();
    expect(await registered(t)).toBeUndefined();

    await changeStatus(db.pool, t.tenant.id, 'reactivate');
    await runJobs();
    expect(rolesOf('life', 'messages', 'select')).toEqual(ROLES);
    expect(await registered(t)).toBeDefined();
  });

  it('a move swaps the source in one bulk that replaces its connection: the namespace is never dropped', async () => {
    const t = await make('swap');
    const before = hasura.requests.length;
    const moveDeps = {
      env: db.env(),
      pool: db.pool,
      log: createLogger('silent'),
      databases: srv.ctx.databases,
      exposure: deps,
      drainMs: 0,
    };
    const move = await requestMove(moveDeps, t.tenant.id, { to: 'database' });
    const done = await runMove(moveDeps, move.id);
    expect(done.state).toBe('done');
    const sent = hasura.requests.slice(before) as { type: string; args: { type: string; args: Record<string, unknown> }[] }[];
    const changes = sent.filter((r) => r.type !== 'export_metadata');
    expect(changes).toHaveLength(1);
    expect(changes[0]!.type).toBe('bulk');
    expect(changes[0]!.args.map((a) => a.type)).toEqual(['pg_add_source']);
    expect(changes[0]!.args[0]!.args['replace_configuration']).toBe(true);
    const url = (sourceOf('swap')!.configuration['connection_info'] as { database_url: string }).database_url;
    expect(new URL(url).pathname).toBe(`/${db.rolePrefix}tenant_swap`);
    expect(rolesOf('swap', 'messages', 'select')).toEqual(ROLES);
  });

  it('a database tenant moves to another server: a database of a second name there, the same source re-pointed', async () => {
    const t = await make('hop', 'database');
    const moveDeps = {
      env: db.env(),
      pool: db.pool,
      log: createLogger('silent'),
      databases: srv.ctx.databases,
      exposure: deps,
      drainMs: 0,
    };
    await expect(requestMove(moveDeps, t.tenant.id, { to: 'database' })).rejects.toMatchObject({ code: 'CONFLICT' });
    const move = await requestMove(moveDeps, t.tenant.id, { to: 'database', databaseUrlEnv: 'TENANT_DATABASE_URL_EU' });
    expect((await runMove(moveDeps, move.id)).state).toBe('done');
    const row = (await db.pool.query('select database_name, database_url_env from public.tenants where id = $1', [t.tenant.id])).rows[0];
    expect(row).toEqual({ database_name: `${db.rolePrefix}tenant_hop_2`, database_url_env: 'TENANT_DATABASE_URL_EU' });
    const url = (sourceOf('hop')!.configuration['connection_info'] as { database_url: string }).database_url;
    expect(new URL(url).pathname).toBe(`/${db.rolePrefix}tenant_hop_2`);
    expect(rolesOf('hop', 'messages', 'select')).toEqual(ROLES);
    expect((await db.pool.query('select 1 from pg_database where datname = $1', [`${db.rolePrefix}tenant_hop`])).rowCount).toBe(0);
    expect((await db.pool.query('select 1 from pg_roles where rolname = $1', [`${db.rolePrefix}tenant_hop`])).rowCount).toBe(1);
    const members = await srv.ctx.databases.withPool(
      { tenantId: t.tenant.id, databaseName: row.database_name, databaseUrlEnv: row.database_url_env },
      async (pool) => (await pool.query('select count(*)::int as n from "tenant_hop".members')).rows[0].n,
    );
    expect(members).toBe(1);
  });

  it('moves, hard deletes and upgrades of one tenant exclude each other (409)', async () => {
    const t = await make('busy');
    let release!: () => void;
    const held = withTenantLock(db.pool, t.tenant.id, 'move this tenant', () => new Promise<void>((r) => (release = r)));
    await expect.poll(() => release !== undefined).toBe(true);
    await expect(hardDeleteTenant(db.pool, t.tenant.id, {}, srv.ctx.deprovisioningSteps)).rejects.toMatchObject({ code: 'CONFLICT' });
    const moveDeps = { env: db.env(), pool: db.pool, log: createLogger('silent'), databases: srv.ctx.databases, exposure: deps };
    await expect(requestMove(moveDeps, t.tenant.id, { to: 'pooled' })).rejects.toThrow(
      /move, hard delete or template upgrade of this tenant is in progress/,
    );
    const report = await migrateTenantSchemas({ pool: db.pool, databases: srv.ctx.databases, concurrency: 1, templateDir: nextTemplate });
    expect(report.failed).toEqual([{ slug: 'busy', error: expect.stringMatching(/move or hard delete of this tenant is in progress/) }]);
    release();
    await held;
    await hardDeleteTenant(db.pool, t.tenant.id, {}, srv.ctx.deprovisioningSteps);
    expect(sourceOf('busy')).toBeUndefined();
  });
});

describe('reconcile', () => {
  it('finds each injected drift, prints it, and repairs it', async () => {
    const [kept, bare, extra, gone] = await Promise.all([make('rc-kept'), make('rc-bare'), make('rc-extra'), make('rc-gone')]);
    await reconcile(deps, { dryRun: false });
    expect((await reconcile(deps, { dryRun: true })).drift).toEqual([]);

    const admin = createMetadataClient({ endpoint: hasura.url, adminSecret: SECRET, timeoutMs: 2000 });
    // A source removed behind the server's back, an extra table, a missing permission, an inconsistent table.
    await admin.request({ type: 'pg_drop_source', args: { name: 'tenant_rc-bare', cascade: true } });
    await admin.request({
      type: 'pg_track_table',
      args: { source: 'tenant_rc-extra', table: { schema: 'tenant_rc-extra', name: 'leftover' } },
    });
    await admin.request({
      type: 'pg_drop_select_permission',
      args: { source: 'tenant_rc-kept', table: { schema: 'tenant_rc-kept', name: 'files' }, role: 'member' },
    });
    hasura.markInconsistent({ source: 'tenant_rc-kept', table: { schema: 'tenant_rc-kept', name: 'channels' } });
    // Archived while Hasura was unreachable: the queued drop fails.
    hasura.unreachable(true);
    await db.pool.query(`update public.tenants set status = 'cancelled', cancelled_at = now() - interval '100 days' where id = $1`, [
      gone.tenant.id,
    ]);
    await db.pool.query('select public.archive_cancelled_tenants()');
    await runJobs().catch(() => undefined);
    hasura.unreachable(false);
    expect(sourceOf('rc-gone')).toBeDefined();

    const cli = await runCli(['hasura', 'reconcile', '--dry-run']);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/SOURCE\s+DRIFT\s+OBJECT/);
    expect(cli.stdout).toMatch(/tenant_rc-bare\s+source missing/);
    expect(cli.stdout).toMatch(/dry run: nothing changed/);

    const before = hasura.resourceVersion;
    const dry = await reconcile(deps, { dryRun: true });
    expect(hasura.resourceVersion).toBe(before);
    const found = dry.drift.map((d) => `${d.source} ${d.kind} ${d.object}`);
    expect(found).toEqual(
      expect.arrayContaining([
        'tenant_rc-bare source missing ',
        'tenant_rc-extra table extra leftover',
        'tenant_rc-kept permission missing files: select/member',
        'tenant_rc-gone closed tenant registered ',
        'tenant_rc-gone source extra ',
      ]),
    );
    expect(found.some((f) => f.startsWith('tenant_rc-kept inconsistent object table tenant_rc-kept.channels'))).toBe(true);

    const repaired = await reconcile(deps, { dryRun: false });
    expect(repaired.failed).toEqual([]);
    expect(repaired.repaired.sort()).toEqual(['tenant_rc-bare', 'tenant_rc-extra', 'tenant_rc-gone', 'tenant_rc-kept']);
    expect(sourceOf('rc-gone')).toBeUndefined();
    expect(await registered(gone)).toBeUndefined();
    expect(tableOf('rc-extra', 'leftover')).toBeUndefined();
    expect(rolesOf('rc-kept', 'files', 'select')).toEqual(ROLES);
    expect(rolesOf('rc-bare', 'messages', 'select')).toEqual(ROLES);
    expect((await admin.request<{ is_consistent: boolean }>({ type: 'get_inconsistent_metadata', args: {} })).is_consistent).toBe(true);
    expect((await reconcile(deps, { dryRun: true })).drift).toEqual([]);
    expect([kept, bare, extra].every((t) => sourceOf(t.tenant.slug))).toBe(true);
  });

  it('the scheduled job logs the drift (dry run by default) and stops on metadata it does not understand', async () => {
    const t = await make('rc-job');
    await createMetadataClient({ endpoint: hasura.url, adminSecret: SECRET, timeoutMs: 2000 }).request({
      type: 'pg_drop_source',
      args: { name: 'tenant_rc-job' },
    });
    const job = HASURA_JOBS.find((j) => j.name === 'hasura.reconcile')!;
    expect(job.schedule).toBeDefined();
    await job.run({}, srv.ctx, undefined as never);
    expect(sourceOf('rc-job')).toBeUndefined(); // dry run: found, not repaired
    await job.run({}, { ...srv.ctx, env: { ...srv.ctx.env, HASURA_RECONCILE: 'repair' } }, undefined as never);
    expect(sourceOf('rc-job')).toBeDefined();
    expect(await registered(t)).toBeDefined();

    const future = {
      ...deps,
      metadata: { request: <T>() => Promise.resolve({ resource_version: 9, metadata: { version: 4, sources: [] } } as T) },
    };
    await expect(reconcile(future, { dryRun: false })).rejects.toBeInstanceOf(UnknownMetadataVersion);
    await expect(reconcile(future, { dryRun: false })).rejects.toThrow(/version 4.*only version 3.*without changing anything/);
  });
});
