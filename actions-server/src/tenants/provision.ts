// Creating a tenant is one database transaction: placement, registry row,
// owner identity and membership, settings, and the tenant's data home:
//   schema    role, schema built from the template, template version;
//   pooled    nothing but rows (the owner's row in pooled.members): no DDL;
//   database  the role (main server); its database is built right after
//             commit (CREATE DATABASE cannot run in a transaction).
// Steps outside the transaction (the tenant database, Hasura metadata, ...)
// run after commit; if one fails, the finished ones are undone and the tenant
// is hard-deleted, so a failure at any point leaves nothing behind.
import type { Env } from '../core/config.ts';
import type { AppContext } from '../core/context.ts';
import type { Logger } from '../core/log.ts';
import { AppError } from '../core/errors.ts';
import { asSystem, type Client, type Pool } from '../db/tx.ts';
import type { Actor } from '../core/actor.ts';
import { hashPassword } from '../auth/passwords.ts';
import type { CreateTenantInput } from './schemas.ts';
import { applyTemplate, latestVersion, loadTemplate, TEMPLATE_DIR, type TemplateStep } from './template.ts';
import { databaseNameFor, roleNameFor, schemaNameFor, type Isolation, type TenantRow } from './records.ts';
import { decidePlacement, type SourceCapacity } from './placement.ts';
import { POOLED_SCHEMA } from './data.ts';
import type { OwnerMember, TenantDatabases } from './databases.ts';

export interface ProvisioningStep {
  name: string;
  run(tenant: TenantRow): Promise<void>;
  undo?(tenant: TenantRow): Promise<void>;
}

export interface ProvisionDeps {
  env: Pick<Env, 'TENANT_ROLE_PREFIX' | 'DEFAULT_ISOLATION'>;
  pool: Pool;
  log: Logger;
  templateDir?: string;
  steps?: ProvisioningStep[];
  /** Builds database-tier tenants' databases; without it such tenants are refused. */
  databases?: TenantDatabases | undefined;
  /** The Hasura source cap (present when Hasura is configured). */
  capacity?: SourceCapacity | undefined;
}

/** What the server context gives provisioning. */
export function provisionDeps(
  ctx: Pick<AppContext, 'env' | 'pool' | 'log' | 'provisioningSteps' | 'databases' | 'sourceCapacity'>,
): ProvisionDeps {
  return {
    env: ctx.env,
    pool: ctx.pool,
    log: ctx.log,
    steps: ctx.provisioningSteps,
    databases: ctx.databases,
    capacity: ctx.sourceCapacity,
  };
}

export interface ProvisionResult {
  tenant: TenantRow;
  ownerId: string;
  /** The owner's identity was made by this sign-up (it is not an existing person opening another tenant). */
  createdIdentity: boolean;
}

export interface PlanRow {
  id: string;
  price_monthly_cents: string | null;
  trial_days: number;
  self_serve: boolean;
  placement: Isolation | null;
  /** The plan's users limit (-1: unlimited), as text (bigint). */
  max_users: string;
}

/** The plan a sign-up asks for, if the caller may have it. */
export async function loadPlan(client: Client, input: Pick<CreateTenantInput, 'plan' | 'trial'>, platformAdmin: boolean): Promise<PlanRow> {
  const plan = (
    await client.query<PlanRow>(
      'select id, price_monthly_cents::text, trial_days, self_serve, placement, max_users::text from public.plans where id = $1',
      [input.plan],
    )
  ).rows[0];
  if (!plan) throw new AppError('PLAN_NOT_AVAILABLE', `Unknown plan '${input.plan}'`);
  if (!plan.self_serve && !platformAdmin) {
    throw new AppError('PLAN_NOT_AVAILABLE', `The ${plan.id} plan is arranged with sales, not at sign-up`);
  }
  const paid = plan.price_monthly_cents !== null && plan.price_monthly_cents !== '0';
  if (paid && !(input.trial && plan.trial_days > 0) && !platformAdmin) {
    throw new AppError('PLAN_NOT_AVAILABLE', `The ${plan.id} plan starts with a trial ("trial": true) or through checkout after sign-up`);
  }
  return plan;
}

export interface NewTenant {
  input: CreateTenantInput;
  plan: PlanRow;
  owner: OwnerMember;
  steps: TemplateStep[];
}

/**
 * The tenant part of the provisioning transaction (the owner identity exists):
 * placement, registry rows, membership, settings and the tenant's data home.
 */
export async function insertTenant(client: Client, deps: ProvisionDeps, spec: NewTenant): Promise<TenantRow> {
  const { input, plan, owner } = spec;
  const placement = await decidePlacement(client, {
    chosen: input.isolation,
    planPlacement: plan.placement,
    defaultIsolation: deps.env.DEFAULT_ISOLATION,
    capacity: deps.capacity,
    log: deps.log,
  });
  const { isolation } = placement;
  if (isolation === 'database') {
    if (!deps.databases) throw new AppError('SERVICE_UNAVAILABLE', 'Database-tier tenants cannot be created here');
    if (!deps.databases.hasServer(input.databaseUrlEnv ?? null)) {
      throw new AppError('VALIDATION_FAILED', `databaseUrlEnv: ${input.databaseUrlEnv} is not configured on this server`);
    }
  }
  const prefix = deps.env.TENANT_ROLE_PREFIX;
  const schemaName = isolation === 'pooled' ? null : schemaNameFor(input.slug);
  const dbRole = isolation === 'pooled' ? null : roleNameFor(prefix, input.slug);
  const databaseName = isolation === 'database' ? databaseNameFor(prefix, input.slug) : null;
  const trialing = input.trial && plan.trial_days > 0;
  // A schema is built in this transaction, so its version is known now: recorded
  // with the row, the creation is one change (one audit entry), not two.
  const templateVersion = isolation === 'schema' ? latestVersion(spec.steps) : null;

  const inserted = (
    await client.query<TenantRow>(
      `insert into public.tenants
         (name, slug, status, isolation, schema_name, db_role, database_name, database_url_env, plan, trial_ends_at, template_version)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9,
               case when $3 = 'trial' then now() + make_interval(days => $10) end, $11)
       returning *`,
      [
        input.name,
        input.slug,
        trialing ? 'trial' : 'active',
        isolation,
        schemaName,
        dbRole,
        databaseName,
        isolation === 'database' ? (input.databaseUrlEnv ?? null) : null,
        plan.id,
        plan.trial_days,
        templateVersion,
      ],
    )
  ).rows[0]!;
  const literal = (v: string) => client.escapeLiteral(v);
  // The owner's membership and the settings row, in this order (an audit entry
  // each), sent with what the tenant's placement makes next.
  const registryRows = [
    `insert into public.memberships (tenant_id, identity_id, role) values (${literal(inserted.id)}, ${literal(owner.identityId)}, 'owner')`,
    `insert into public.tenant_settings (tenant_id) values (${literal(inserted.id)})`,
  ];
  if (placement.reserveSource) await deps.capacity?.reserve(client, inserted);

  switch (isolation) {
    case 'pooled':
      // Registry rows only: the owner is the tenant's first member (and counts as a user).
      await client.query(
        [
          ...registryRows,
          `insert into ${client.escapeIdentifier(POOLED_SCHEMA)}.members (tenant_id, identity_id, display_name, email)
           values (${literal(inserted.id)}, ${literal(owner.identityId)}, ${literal(owner.name)}, ${literal(owner.email)})`,
        ].join(';\n'),
      );
      return inserted;
    case 'database':
      // Roles are cluster-wide: one for the main server is made here, with the
      // registry row; another server's is made with the database.
      await client.query(
        [...registryRows, ...(inserted.database_url_env === null ? tenantRoleStatements(client, dbRole!) : [])].join(';\n'),
      );
      return inserted;
    case 'schema': {
      if (plan.max_users === '0') throw ownerOverUsersLimit(plan.id);
      const schema = client.escapeIdentifier(schemaName!);
      // One round trip: the registry rows; the role; the schema, then its
      // tables (Citus schema-based sharding needs that order); the owner as
      // the tenant's first member in its own data, written with the tables:
      // attaching the plan-limit and usage triggers counts it as a user (the
      // one limit it could break is checked above).
      const version = await applyTemplate(client, {
        schema: schemaName!,
        role: dbRole!,
        tenantId: inserted.id,
        fromVersion: 0,
        steps: spec.steps,
        before: [
          ...registryRows,
          ...tenantRoleStatements(client, dbRole!),
          `create schema ${schema}`,
          `comment on schema ${schema} is ${literal(`tenant:${inserted.id}`)}`,
        ],
        seed: [
          `insert into ${schema}.members (identity_id, display_name, email) values (${literal(owner.identityId)}, ${literal(owner.name)}, ${literal(owner.email)})`,
        ],
      });
      if (version !== templateVersion) throw new Error('template did not reach its latest version');
      return inserted;
    }
    default: {
      const never: never = isolation;
      throw new Error(`unknown isolation ${String(never)}`);
    }
  }
}

/** What the users limit trigger (public.tg__limits) answers when a plan allows no users at all. */
function ownerOverUsersLimit(plan: string): AppError {
  return new AppError('QUOTA_EXCEEDED', `users limit reached: the ${plan} plan allows 0 users and this tenant has 0`, {
    limit: 'users',
    plan,
    max: 0,
    usage: 0,
    requested: 1,
  });
}

function tenantRoleStatements(client: Client, role: string): string[] {
  return [
    `create role ${client.escapeIdentifier(role)} nologin nobypassrls noinherit`,
    // A non-superuser owner must be a member to SET ROLE into it per request.
    `grant ${client.escapeIdentifier(role)} to current_user`,
  ];
}

/** Builds a database tenant's database after commit; undone by dropping it. */
function databaseStep(deps: ProvisionDeps, owner: OwnerMember, steps: TemplateStep[], built: (t: TenantRow) => void): ProvisioningStep {
  const databases = deps.databases!;
  return {
    name: 'tenant-database',
    async run(tenant) {
      // A failed build drops what it made itself, so the hard delete that follows can proceed.
      const version = await databases.build(tenant, owner, steps);
      const row = await asSystem(
        deps.pool,
        async (client) =>
          (await client.query<TenantRow>('update public.tenants set template_version = $2 where id = $1 returning *', [tenant.id, version]))
            .rows[0]!,
      );
      built(row);
    },
    undo: (tenant) => databases.drop(tenant),
  };
}

export async function provisionTenant(
  deps: ProvisionDeps,
  input: CreateTenantInput,
  opts: { platformAdmin?: boolean; actor?: Actor; signedInAs?: string | undefined } = {},
): Promise<ProvisionResult> {
  if ((input.isolation !== undefined || input.databaseUrlEnv !== undefined) && !opts.platformAdmin) {
    throw new AppError('FORBIDDEN', 'Only platform administrators choose where a tenant is placed');
  }
  const steps = await loadTemplate(deps.templateDir ?? TEMPLATE_DIR);
  // Hash outside the transaction: argon2 is deliberately slow.
  const newHash = await hashPassword(input.ownerPassword);

  const owner: OwnerMember = { identityId: '', name: input.ownerName, email: input.ownerEmail };
  const created = await asSystem(
    deps.pool,
    async (client) => {
      const plan = await loadPlan(client, input, opts.platformAdmin ?? false);
      // The owner: the person with this email (locked), else a new identity, in
      // one statement. Sign-up is the new owner's act, so unless an actor was
      // given, the same statement makes them the audit trail's actor for the
      // rest of the transaction (an existing person refused below rolls it back).
      const found = (
        await client.query<{ id: string; created: boolean }>(
          `with existing as (select id from public.identities where email = $1 for update),
                created as (insert into public.identities (email, name, password_hash)
                            select $1, $2, $3 where not exists (select 1 from existing)
                            returning id)
           select who.id, who.created,
                  case when $4 then set_config('app.user_id', who.id::text, true) || set_config('app.actor', 'user', true) end
           from (select id, false as created from existing union all select id, true from created) who`,
          [input.ownerEmail, input.ownerName, newHash, !opts.actor?.userId],
        )
      ).rows[0]!;
      // An existing person opens another tenant signed in (a token of theirs).
      // The password is not checked here, so this answer is the same whatever
      // password was sent: sign-up is no oracle for guessing passwords.
      if (!found.created && opts.signedInAs !== found.id) {
        throw new AppError('IDENTITY_EXISTS', 'An account with that email exists; sign in and create the tenant with your token');
      }
      owner.identityId = found.id;
      const tenant = await insertTenant(client, deps, { input, plan, owner, steps });
      return { tenant, createdIdentity: found.created };
    },
    opts.actor,
  );

  let tenant = created.tenant;
  const post: ProvisioningStep[] = [
    ...(tenant.isolation === 'database' ? [databaseStep(deps, owner, steps, (row) => (tenant = row))] : []),
    ...(deps.steps ?? []),
  ];
  const done: ProvisioningStep[] = [];
  try {
    for (const step of post) {
      await step.run(tenant);
      done.push(step);
    }
  } catch (err) {
    deps.log.error({ tenantId: tenant.id, err: (err as Error).message }, 'provisioning step failed; compensating');
    await compensate(deps, tenant, done, created.createdIdentity ? owner.identityId : undefined);
    throw err;
  }
  return { tenant, ownerId: owner.identityId, createdIdentity: created.createdIdentity };
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
