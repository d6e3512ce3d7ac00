// Creating a tenant is one database transaction: registry row, owner identity
// and membership, settings, role, schema built from the template, template
// version. Steps outside the database (Hasura metadata, ...) run after commit;
// if one fails, the finished ones are undone and the tenant is hard-deleted, so
// a failure at any point leaves nothing behind.
import type { Env } from '../config.ts';
import type { Logger } from '../log.ts';
import { AppError } from '../http/errors.ts';
import { asSystem, type ActorInfo, type Pool } from '../db/tx.ts';
import { hashPassword, verifyPassword } from '../auth/passwords.ts';
import type { CreateTenantInput } from './schemas.ts';
import { applyTemplate, latestVersion, loadTemplate, TEMPLATE_DIR } from './template.ts';
import { roleNameFor, schemaNameFor, type TenantRow } from './records.ts';

export interface ProvisioningStep {
  name: string;
  run(tenant: TenantRow): Promise<void>;
  undo?(tenant: TenantRow): Promise<void>;
}

export interface ProvisionDeps {
  env: Pick<Env, 'TENANT_ROLE_PREFIX'>;
  pool: Pool;
  log: Logger;
  templateDir?: string;
  steps?: ProvisioningStep[];
}

export interface ProvisionResult {
  tenant: TenantRow;
  ownerId: string;
}

interface PlanRow {
  id: string;
  price_monthly_cents: string | null;
  trial_days: number;
  self_serve: boolean;
}

export async function provisionTenant(
  deps: ProvisionDeps,
  input: CreateTenantInput,
  opts: { platformAdmin?: boolean; actor?: ActorInfo } = {},
): Promise<ProvisionResult> {
  const steps = await loadTemplate(deps.templateDir ?? TEMPLATE_DIR);
  // Hash outside the transaction: argon2 is deliberately slow.
  const newHash = await hashPassword(input.ownerPassword);

  const { tenant, ownerId, createdIdentity } = await asSystem(deps.pool, async (client) => {
    const plan = (
      await client.query<PlanRow>(
        'select id, price_monthly_cents::text, trial_days, self_serve from public.plans where id = $1',
        [input.plan],
      )
    ).rows[0];
    if (!plan) throw new AppError('PLAN_NOT_AVAILABLE', `Unknown plan '${input.plan}'`);
    if (!plan.self_serve && !opts.platformAdmin) {
      throw new AppError('PLAN_NOT_AVAILABLE', `The ${plan.id} plan is arranged with sales, not at sign-up`);
    }
    const paid = plan.price_monthly_cents !== null && plan.price_monthly_cents !== '0';
    const trialing = input.trial && plan.trial_days > 0;
    if (paid && !trialing && !opts.platformAdmin) {
      throw new AppError(
        'PLAN_NOT_AVAILABLE',
        `The ${plan.id} plan starts with a trial ("trial": true) or through checkout after sign-up`,
      );
    }

    const existing = (
      await client.query<{ id: string; password_hash: string | null }>(
        'select id, password_hash from public.identities where email = $1 for update',
        [input.ownerEmail],
      )
    ).rows[0];
    let ownerId: string;
    let createdIdentity = false;
    if (existing) {
      // An existing person may open another tenant, but only with their own password.
      if (!(await verifyPassword(existing.password_hash, input.ownerPassword))) {
        throw new AppError('IDENTITY_EXISTS', 'An account with that email exists; use its password to create another tenant');
      }
      ownerId = existing.id;
    } else {
      ownerId = (
        await client.query<{ id: string }>(
          'insert into public.identities (email, name, password_hash) values ($1, $2, $3) returning id',
          [input.ownerEmail, input.ownerName, newHash],
        )
      ).rows[0]!.id;
      createdIdentity = true;
    }
    // Sign-up is the new owner's act: the audit trail records them as its actor.
    if (!opts.actor?.userId) {
      await client.query(`set local app.user_id = ${client.escapeLiteral(ownerId)}; set local app.actor = 'user'`);
    }

    const schemaName = schemaNameFor(input.slug);
    const dbRole = roleNameFor(deps.env.TENANT_ROLE_PREFIX, input.slug);
    const inserted = (
      await client.query<TenantRow>(
        `insert into public.tenants (name, slug, status, isolation, schema_name, db_role, plan, trial_ends_at)
         values ($1, $2, $3, 'schema', $4, $5, $6,
                 case when $3 = 'trial' then now() + make_interval(days => $7) end)
         returning *`,
        [input.name, input.slug, trialing ? 'trial' : 'active', schemaName, dbRole, plan.id, plan.trial_days],
      )
    ).rows[0]!;
    await client.query(`insert into public.memberships (tenant_id, identity_id, role) values ($1, $2, 'owner')`, [
      inserted.id,
      ownerId,
    ]);
    await client.query('insert into public.tenant_settings (tenant_id) values ($1)', [inserted.id]);

    // Schema first, tables after (Citus schema-based sharding needs that order).
    await client.query(`create role ${client.escapeIdentifier(dbRole)} nologin nobypassrls noinherit`);
    // A non-superuser owner must be a member to SET ROLE into it per request.
    await client.query(`grant ${client.escapeIdentifier(dbRole)} to current_user`);
    await client.query(`create schema ${client.escapeIdentifier(schemaName)}`);
    await client.query(
      `comment on schema ${client.escapeIdentifier(schemaName)} is ${client.escapeLiteral(`tenant:${inserted.id}`)}`,
    );
    const version = await applyTemplate(client, {
      schema: schemaName,
      role: dbRole,
      tenantId: inserted.id,
      fromVersion: 0,
      steps,
    });
    if (version !== latestVersion(steps)) throw new Error('template did not reach its latest version');
    // The owner is the tenant's first member in its own data (and counts as a user).
    await client.query(
      `insert into ${client.escapeIdentifier(schemaName)}.members (identity_id, display_name, email) values ($1, $2, $3)`,
      [ownerId, input.ownerName, input.ownerEmail],
    );
    const tenant = (
      await client.query<TenantRow>('update public.tenants set template_version = $2 where id = $1 returning *', [
        inserted.id,
        version,
      ])
    ).rows[0]!;
    return { tenant, ownerId, createdIdentity };
  }, opts.actor);

  const done: ProvisioningStep[] = [];
  try {
    for (const step of deps.steps ?? []) {
      await step.run(tenant);
      done.push(step);
    }
  } catch (err) {
    deps.log.error({ tenantId: tenant.id, err: (err as Error).message }, 'provisioning step failed; compensating');
    await compensate(deps, tenant, done, createdIdentity ? ownerId : undefined);
    throw err;
  }
  return { tenant, ownerId };
}

async function compensate(deps: ProvisionDeps, tenant: TenantRow, done: ProvisioningStep[], identityId?: string) {
  for (const step of [...done].reverse()) {
    try {
      await step.undo?.(tenant);
    } catch (err) {
      deps.log.error({ tenantId: tenant.id, step: step.name, err: (err as Error).message }, 'undo failed');
    }
  }
  await asSystem(deps.pool, async (client) => {
    await client.query('select public.hard_delete_tenant($1)', [tenant.id]);
    if (identityId) {
      await client.query(
        `delete from public.identities i where i.id = $1
           and not exists (select 1 from public.memberships m where m.identity_id = i.id)`,
        [identityId],
      );
    }
  });
}
