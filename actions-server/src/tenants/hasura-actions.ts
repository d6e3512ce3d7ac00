// The tenant core's Hasura actions (registered in hasura/actions.ts).
import { z } from 'zod';
import { actorOf, defineAction, outputOf, requireSessionMember, withoutNulls, type HasuraAction } from '../hasura/action.ts';
import { isPlatformOperator, requirePlatformOperator } from '../hasura/session.ts';
import type {
  CreateTenantOutput,
  MutationCreateTenantArgs,
  MutationReactivateTenantArgs,
  MutationSuspendTenantArgs,
  MutationUpdateTenantArgs,
  TenantInfo,
  UpdateTenantOutput,
} from '../hasura/generated/actions.ts';
import { startSession } from '../auth/sessions.ts';
import { afterSignUp } from '../auth/account.ts';
import { provisionDeps, provisionTenant } from './provision.ts';
import { toTenantView } from './records.ts';
import { changeTenantStatus, updateTenant } from './service.ts';
import { createTenantSchema, updateTenantSchema } from './schemas.ts';

// Argument schemas, checked against the generated argument types so the two cannot drift apart silently.
const createTenantArgs = z.object({
  input: z.preprocess(withoutNulls, createTenantSchema),
}) satisfies z.ZodType<MutationCreateTenantArgs, unknown>;
const updateTenantArgs = z.object({
  // customDomain: null is meaningful (remove the domain); other nulls mean "unchanged".
  input: z.preprocess((v) => {
    const rest = withoutNulls(v);
    return typeof v === 'object' && v !== null && 'customDomain' in v && v.customDomain === null
      ? { ...(rest as object), customDomain: null }
      : rest;
  }, updateTenantSchema),
}) satisfies z.ZodType<MutationUpdateTenantArgs, unknown>;
const tenantIdArgs = z.object({ tenantId: z.uuid() }) satisfies z.ZodType<
  MutationSuspendTenantArgs & MutationReactivateTenantArgs,
  unknown
>;

const tenantInfo = outputOf<TenantInfo>({
  id: true,
  name: true,
  slug: true,
  status: true,
  isolation: true,
  plan: true,
  customDomain: true,
  customDomainVerified: true,
  trialEndsAt: true,
  suspendedAt: true,
  cancelledAt: true,
  branding: true,
  createdAt: true,
  updatedAt: true,
});

const statusAction = (name: string, change: 'suspend' | 'reactivate') =>
  defineAction(name, tenantIdArgs, async (ctx, { tenantId }, session) => {
    await requirePlatformOperator(ctx.access, session);
    return tenantInfo(await changeTenantStatus(ctx, tenantId, change, actorOf(session))) satisfies TenantInfo;
  });

export const TENANT_ACTIONS: readonly HasuraAction[] = [
  defineAction('createTenant', createTenantArgs, async (ctx, { input: args }, session) => {
    // Hasura does not pass the client's address to actions: the account is what is throttled here.
    const succeeded = await ctx.authThrottle.attempt('signup', { account: args.ownerEmail });
    const { tenant, ownerId, createdIdentity } = await provisionTenant(provisionDeps(ctx), args, {
      platformAdmin: await isPlatformOperator(ctx.access, session),
      actor: actorOf(session),
      signedInAs: session.userId,
    });
    succeeded();
    const { token, expiresIn, refreshToken, refreshExpiresIn } = await startSession(ctx, {
      userId: ownerId,
      tenantId: tenant.id,
      role: 'owner',
    });
    await afterSignUp(ctx, { tenantId: tenant.id, identityId: ownerId, createdIdentity });
    ctx.log.info({ tenantId: tenant.id, userId: ownerId, slug: tenant.slug }, 'tenant created (action)');
    return {
      tenant: tenantInfo(toTenantView(tenant)),
      ownerId,
      token,
      expiresIn,
      refreshToken,
      refreshExpiresIn,
    } satisfies CreateTenantOutput;
  }),
  defineAction('updateTenant', updateTenantArgs, async (ctx, { input: patch }, session) => {
    const member = await requireSessionMember(ctx, session, 'admin');
    const { settings, ...view } = await updateTenant(ctx.pool, member, member.tenantId, patch, { env: ctx.env });
    return { tenant: tenantInfo(view), settings } satisfies UpdateTenantOutput;
  }),
  statusAction('suspendTenant', 'suspend'),
  statusAction('reactivateTenant', 'reactivate'),
];
