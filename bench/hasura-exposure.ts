// ARCHITECTURE.md §11: what exposing a tenant through Hasura costs the engine, in
// metadata API calls and metadata bytes: a schema tenant gets a source of its
// own, a pooled tenant shares the platform metadata and costs nothing. Measured
// against the metadata API double (tests/support/hasura-double.ts, which
// validates every request against Hasura's metadata schema), through the
// provisioning steps the server wires.
import { randomBytes } from 'node:crypto';
import { startHasuraDouble } from '../tests/support/hasura-double.ts';
import type { TenantRow } from '../actions-server/src/tenants/records.ts';
import { ident } from './support/cluster.ts';
import { startProjectServer } from './support/servers.ts';
import { signUp } from './support/tenants.ts';
import { sized, type Benchmark } from './support/types.ts';

interface Cost {
  calls: number;
  requestBytes: number;
  metadataBytes: number;
}

const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);

export const hasuraExposure: Benchmark = {
  name: 'hasura-exposure',
  title: 'Hasura exposure: metadata calls and bytes per tenant, pooled vs schema tenant (metadata API double)',
  rows: () => [
    {
      id: 'calls',
      metric: 'metadata API calls per tenant: pooled vs schema tenant',
      unit: 'calls',
      target: { kind: 'info', text: 'reported (ARCHITECTURE.md §6)' },
    },
    {
      id: 'request-bytes',
      metric: 'metadata request bytes sent per tenant: pooled vs schema tenant',
      unit: 'bytes',
      target: { kind: 'info', text: 'reported (ARCHITECTURE.md §6)' },
    },
    {
      id: 'metadata-bytes',
      metric: 'exported metadata growth per tenant: pooled vs schema tenant',
      unit: 'bytes',
      target: { kind: 'info', text: 'reported (ARCHITECTURE.md §6)' },
    },
    {
      id: 'pooled-calls',
      metric: 'metadata API calls per pooled tenant',
      unit: 'calls',
      target: { kind: 'absolute', op: '=', limit: 0, unit: 'calls' },
    },
  ],

  async run(ctx) {
    const schemaTenants = sized(ctx.scale, { tiny: 2, default: 20 });
    const pooledTenants = sized(ctx.scale, { tiny: 2, default: 20 });
    const adminSecret = randomBytes(24).toString('hex');
    const hasura = await startHasuraDouble({ adminSecret });
    const db = await ctx.cluster.createDb('hasura_exposure');
    // The login role tenant sources connect as (hasura_tenants in a deployment), ours to drop.
    const loginRole = `${db.rolePrefix}hasura_login`;
    await db.pool.query(`create role ${ident(loginRole)} login noinherit nobypassrls`);
    const sourceUrl = new URL(db.url);
    sourceUrl.username = loginRole;
    sourceUrl.password = '';
    const project = await startProjectServer(db, {
      HASURA_GRAPHQL_ENDPOINT: `${hasura.url}/v1/graphql`,
      HASURA_GRAPHQL_ADMIN_SECRET: adminSecret,
      HASURA_TENANT_DATABASE_URL: sourceUrl.toString(),
    });
    try {
      const steps = project.ctx.provisioningSteps;
      ctx.check('the server wired a Hasura provisioning step', true, steps.length > 0);
      const measure = async (make: () => Promise<unknown>): Promise<Cost> => {
        const before = { calls: hasura.requests.length, size: JSON.stringify(hasura.metadata()).length };
        await make();
        const sent = hasura.requests.slice(before.calls);
        return {
          calls: sent.length,
          requestBytes: sent.reduce<number>((n, r) => n + Buffer.byteLength(JSON.stringify(r)), 0),
          metadataBytes: JSON.stringify(hasura.metadata()).length - before.size,
        };
      };

      ctx.progress(`${schemaTenants} schema tenants through the sign-up service`);
      const schemaCosts: Cost[] = [];
      for (let i = 0; i < schemaTenants; i++) schemaCosts.push(await measure(() => signUp(db, `exposed-${i}`, { steps })));

      ctx.progress(`${pooledTenants} pooled tenants through the same steps`);
      // The pooled tier's provisioning comes with a later issue: a registry row
      // with isolation 'pooled' goes through the very steps a sign-up runs.
      const pooledCosts: Cost[] = [];
      for (let i = 0; i < pooledTenants; i++) {
        const { rows } = await db.pool.query<TenantRow>(
          `insert into public.tenants (name, slug, isolation) values ($1, $2, 'pooled') returning *`,
          [`Pooled ${i}`, `pooled-${i}`],
        );
        pooledCosts.push(
          await measure(async () => {
            for (const step of steps) await step.run(rows[0]!);
          }),
        );
      }

      const sources = hasura.metadata().sources.filter((s) => s.name.startsWith('tenant_exposed-')).length;
      ctx.check('one Hasura source per schema tenant, none for pooled tenants', schemaTenants, sources);
      ctx.check(
        'every schema tenant cost the same number of calls (flat in the number of sources)',
        1,
        new Set(schemaCosts.map((c) => c.calls)).size,
      );
      const schema = {
        calls: mean(schemaCosts.map((c) => c.calls)),
        req: mean(schemaCosts.map((c) => c.requestBytes)),
        md: mean(schemaCosts.map((c) => c.metadataBytes)),
      };
      const pooled = {
        calls: mean(pooledCosts.map((c) => c.calls)),
        req: mean(pooledCosts.map((c) => c.requestBytes)),
        md: mean(pooledCosts.map((c) => c.metadataBytes)),
      };
      const first = schemaCosts[0]!;
      const last = schemaCosts.at(-1)!;
      return {
        calls: { baseline: pooled.calls, project: schema.calls },
        'request-bytes': { baseline: pooled.req, project: schema.req },
        'metadata-bytes': {
          baseline: pooled.md,
          project: schema.md,
          note: `first and last of ${schemaTenants} schema tenants added ${first.metadataBytes} and ${last.metadataBytes} bytes`,
        },
        'pooled-calls': { baseline: null, project: pooled.calls },
      };
    } finally {
      await project.close();
      await hasura.close();
      await db.close();
    }
  },
};
