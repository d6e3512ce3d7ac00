// Sending mail goes through the job runner: the caller enqueues a message in
// its own transaction (it exists only if that commits, and a crash after the
// commit does not lose it); the `mail.send` job renders it with the tenant's
// branding at that moment and delivers it, retrying on SMTP failures.
import type { AppContext } from '../core/context.ts';
import type { Client, Pool } from '../db/tx.ts';
import { enqueue } from '../jobs/queue.ts';
import { brandingOf, renderMail, type MailTemplate, type MailVars } from './templates.ts';
import { deliver } from './transport.ts';

export const MAIL_JOB = 'mail.send';
const PLATFORM_NAME = 'Your workspace';

export interface MailRequest {
  template: MailTemplate;
  to: string;
  tenantId: string | null;
  vars: MailVars;
}

/**
 * Queues a message. `client` may be inside a request role (SET LOCAL ROLE app):
 * the queue belongs to the owner, so the role is reset first; call this last
 * in such a transaction.
 */
export async function enqueueMail(db: Pool | Client, mail: MailRequest): Promise<void> {
  if ('release' in db) await db.query('reset role');
  await enqueue(db, MAIL_JOB, mail, { maxAttempts: 10 });
}

interface TenantForMail {
  name: string;
  slug: string;
  branding: Record<string, unknown>;
  custom_domain: string | null;
  custom_domain_verified_at: Date | null;
}

async function tenantForMail(pool: Pool, tenantId: string | null): Promise<TenantForMail | null> {
  if (!tenantId) return null;
  const { rows } = await pool.query<TenantForMail>(
    'select name, slug, branding, custom_domain, custom_domain_verified_at from public.tenants where id = $1',
    [tenantId],
  );
  return rows[0] ?? null;
}

/** The address people use for a tenant (its verified custom domain, else its subdomain), or the platform's. */
export function publicBaseUrl(
  ctx: Pick<AppContext, 'env'>,
  tenant: Pick<TenantForMail, 'slug' | 'custom_domain' | 'custom_domain_verified_at'> | null,
): string {
  const host = !tenant
    ? ctx.env.BASE_DOMAIN
    : tenant.custom_domain && tenant.custom_domain_verified_at
      ? tenant.custom_domain
      : `${tenant.slug}.${ctx.env.BASE_DOMAIN}`;
  return `${ctx.env.PUBLIC_URL_SCHEME}://${host}`;
}

export async function baseUrlFor(ctx: Pick<AppContext, 'env' | 'pool'>, tenantId: string | null): Promise<string> {
  return publicBaseUrl(ctx, await tenantForMail(ctx.pool, tenantId));
}

/** A link into the tenant's (or platform's) front end carrying a token. */
export async function linkFor(
  ctx: Pick<AppContext, 'env' | 'pool'>,
  tenantId: string | null,
  path: string,
  token: string,
): Promise<string> {
  return `${await baseUrlFor(ctx, tenantId)}${path}?token=${encodeURIComponent(token)}`;
}

/** Renders with the tenant's current branding and delivers (SMTP or outbox). */
export async function sendNow(ctx: Pick<AppContext, 'env' | 'pool' | 'log'>, mail: MailRequest): Promise<void> {
  const tenant = await tenantForMail(ctx.pool, mail.tenantId);
  const branding = brandingOf(tenant, PLATFORM_NAME);
  await deliver(ctx, {
    ...renderMail(mail.template, mail.vars, branding),
    template: mail.template,
    to: mail.to,
    fromName: branding.productName,
    tenantId: mail.tenantId,
  });
}
