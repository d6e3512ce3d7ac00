// Tenant lifecycle after creation. Reads and edits on behalf of a tenant run as
// `app` under RLS (the tenant comes from the verified token); status changes are
// platform operations and run as the owner after the caller was authorised.
import { AppError } from '../core/errors.ts';
import { asApp, asSystem, type Client, type Pool } from '../db/tx.ts';
import type { Actor, TenantActor } from '../core/actor.ts';
import { toTenantView, type TenantRow, type TenantView, type PublicTenantView, toPublicView } from './records.ts';
import type { UpdateTenantInput } from './schemas.ts';
import type { Env } from '../core/config.ts';
import type { AppContext } from '../core/context.ts';
import { assertCustomDomainAllowed } from '../domains/policy.ts';
import { issueDomainToken, recordManualVerification, type VerificationEnv } from '../domains/verification.ts';
import { brandingWarnings, mergeBranding } from '../branding/service.ts';
import { withTenantLock } from './lock.ts';

/** What tenant updates read from the configuration: domain rules, the proof's settings, allowed image hosts. */
export type TenantUpdateEnv = VerificationEnv & Pick<Env, 'BASE_DOMAIN' | 'ALLOWED_CUSTOM_DOMAIN_SUFFIXES' | 'BRANDING_IMAGE_HOSTS'>;
import { requireFeature } from '../entitlements/service.ts';

async function settingsOf(client: Client, tenantId: string): Promise<Record<string, unknown>> {
  const row = (
    await client.query<{ settings: Record<string, unknown> }>('select settings from public.tenant_settings where tenant_id = $1', [
      tenantId,
    ])
  ).rows[0];
  return row?.settings ?? {};
}

export async function getTenant(pool: Pool, actor: TenantActor, id: string): Promise<TenantView & { settings: Record<string, unknown> }> {
  return asApp(pool, actor, async (client) => {
    const row = (await client.query<TenantRow>('select * from public.tenants where id = $1', [id])).rows[0];
    if (!row) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
    return { ...toTenantView(row), settings: await settingsOf(client, id) };
  });
}

export async function updateTenant(
  pool: Pool,
  actor: TenantActor,
  id: string,
  patch: UpdateTenantInput,
  opts: { env: TenantUpdateEnv },
): Promise<TenantView & { settings: Record<string, unknown>; brandingWarnings?: string[] }> {
  // Checked before anything is written: a refused domain, or one the plan does not include, leaves nothing half-done
  // (the database enforces the feature again).
  if (patch.customDomain) {
    assertCustomDomainAllowed(patch.customDomain, opts.env);
    await requireFeature(pool, id, 'custom_domain');
  }
  let cssDropped: string[] = [];
  await asApp(pool, actor, async (client) => {
    const current = (await client.query<TenantRow>('select * from public.tenants where id = $1 for update', [id])).rows[0];
    if (!current) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
    if (patch.name !== undefined || patch.branding !== undefined) {
      const merged = patch.branding ? mergeBranding(current.branding, patch.branding, opts.env) : undefined;
      cssDropped = merged?.cssDropped ?? [];
      await client.query(`update public.tenants set name = coalesce($2, name), branding = coalesce($3::jsonb, branding) where id = $1`, [
        id,
        patch.name ?? null,
        merged ? JSON.stringify(merged.branding) : null,
      ]);
    }
    if (patch.settings !== undefined) {
      await client.query('update public.tenant_settings set settings = settings || $2::jsonb where tenant_id = $1', [
        id,
        JSON.stringify(patch.settings),
      ]);
    }
  });
  if (patch.customDomain !== undefined) await setCustomDomain(pool, id, patch.customDomain, opts.env, actor);
  const tenant = await getTenant(pool, actor, id);
  return cssDropped.length > 0 ? { ...tenant, brandingWarnings: brandingWarnings(cssDropped) } : tenant;
}

/**
 * A new or changed custom domain starts unverified, with a new token to publish
 * in DNS (domains/verification.ts); resolution ignores it until verified.
 */
export async function setCustomDomain(
  pool: Pool,
  tenantId: string,
  domain: string | null,
  env: TenantUpdateEnv,
  actor: Actor = {},
): Promise<void> {
  if (domain !== null) assertCustomDomainAllowed(domain, env);
  await asSystem(
    pool,
    async (client) => {
      const current = (
        await client.query<{ custom_domain: string | null }>('select custom_domain from public.tenants where id = $1 for update', [
          tenantId,
        ])
      ).rows[0];
      if (!current) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
      if (current.custom_domain === domain) return;
      await client.query('update public.tenants set custom_domain = $2, custom_domain_verified_at = null where id = $1', [
        tenantId,
        domain,
      ]);
      await issueDomainToken(client, tenantId, domain, env);
    },
    actor,
  );
}

export async function markCustomDomainVerified(pool: Pool, tenantId: string, actor: Actor = {}): Promise<TenantView> {
  return asSystem(
    pool,
    async (client) => {
      const row = (
        await client.query<TenantRow>(
          `update public.tenants set custom_domain_verified_at = now()
         where id = $1 and custom_domain is not null returning *`,
          [tenantId],
        )
      ).rows[0];
      if (!row) throw new AppError('NOT_FOUND', 'Tenant not found or it has no custom domain');
      // A platform admin's word instead of DNS: recorded and audited as manual.
      await recordManualVerification(client, tenantId, row.custom_domain!);
      return toTenantView(row);
    },
    actor,
  );
}

type StatusChange = 'suspend' | 'reactivate' | 'cancel';

const STATUS_SQL: Record<StatusChange, { sql: string; from: string[] }> = {
  suspend: {
    sql: `update public.tenants set status = 'suspended', suspended_at = now() where id = $1 returning *`,
    from: ['trial', 'active'],
  },
  reactivate: {
    sql: `update public.tenants
            set status = case when trial_ends_at > now() then 'trial' else 'active' end,
                suspended_at = null, cancelled_at = null
          where id = $1 returning *`,
    from: ['suspended', 'cancelled'],
  },
  cancel: {
    sql: `update public.tenants set status = 'cancelled', cancelled_at = now() where id = $1 returning *`,
    from: ['trial', 'active', 'suspended'],
  },
};

/** Suspend, reactivate or soft-delete (cancel: data kept, archived after 90 days). */
export async function changeStatus(pool: Pool, tenantId: string, change: StatusChange, actor: Actor = {}): Promise<TenantView> {
  return asSystem(
    pool,
    async (client) => {
      const current = (await client.query<{ status: string }>('select status from public.tenants where id = $1 for update', [tenantId]))
        .rows[0];
      if (!current) throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
      const rule = STATUS_SQL[change];
      if (!rule.from.includes(current.status)) {
        throw new AppError('CONFLICT', `Cannot ${change} a tenant that is ${current.status}`);
      }
      const row = (await client.query<TenantRow>(rule.sql, [tenantId])).rows[0]!;
      return toTenantView(row);
    },
    actor,
  );
}

/**
 * A status change made by this server: its own resolver forgets the tenant at
 * once, so the next request it answers already sees the new status (other
 * processes learn it from the tenant_changed notification).
 */
export async function changeTenantStatus(
  ctx: Pick<AppContext, 'pool' | 'resolver'>,
  tenantId: string,
  change: StatusChange,
  actor: Actor,
): Promise<TenantView> {
  const tenant = await changeStatus(ctx.pool, tenantId, change, actor);
  ctx.resolver.invalidate({ id: tenant.id, slugs: [tenant.slug], domains: [tenant.customDomain] });
  return tenant;
}

/**
 * Irreversible. Steps outside the database (the tenant's Hasura source) go
 * first: a source left pointing at a dropped role would break Hasura's metadata.
 * Refused (409) while the tenant is being moved or upgraded, or has a move to
 * finish or abort first.
 */
export async function hardDeleteTenant(
  pool: Pool,
  tenantId: string,
  actor: Actor = {},
  deprovisioningSteps: readonly ((tenantId: string) => Promise<void>)[] = [],
): Promise<void> {
  await withTenantLock(pool, tenantId, 'hard-delete this tenant', async () => {
    const moving = await pool.query<{ state: string }>(
      'select state from public.tenant_moves where tenant_id = $1 and finished_at is null',
      [tenantId],
    );
    if (moving.rows[0]) {
      throw new AppError(
        'CONFLICT',
        `This tenant has an unfinished move (step ${moving.rows[0].state}): finish or abort it before a hard delete`,
      );
    }
    for (const step of deprovisioningSteps) await step(tenantId);
    await asSystem(pool, (client) => client.query('select public.hard_delete_tenant($1)', [tenantId]), actor);
  });
}

export async function archiveCancelledTenants(pool: Pool, olderThanDays = 90, actor: Actor = { kind: 'cron' }): Promise<number> {
  return asSystem(
    pool,
    async (client) => {
      const { rows } = await client.query<{ n: number }>('select public.archive_cancelled_tenants(make_interval(days => $1)) as n', [
        olderThanDays,
      ]);
      return rows[0]?.n ?? 0;
    },
    actor,
  );
}

export async function getPublicTenant(pool: Pool, by: { slug: string } | { domain: string }): Promise<PublicTenantView> {
  const row = await asSystem(pool, async (client) => {
    const { rows } =
      'slug' in by
        ? await client.query<TenantRow>('select name, slug, status, branding from public.tenants where slug = $1', [by.slug])
        : await client.query<TenantRow>(
            `select name, slug, status, branding from public.tenants
             where custom_domain = $1 and custom_domain_verified_at is not null`,
            [by.domain],
          );
    return rows[0];
  });
  if (!row || row.status === 'archived') throw new AppError('TENANT_NOT_FOUND', 'Tenant not found');
  return toPublicView(row);
}
