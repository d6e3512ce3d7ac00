// Hasura actions (hasura/metadata/actions.graphql): one dispatcher, called by
// Hasura with a shared secret. Identity comes only from `session_variables`
// (set by Hasura from the auth webhook or the JWT), never from client headers,
// which actions.yaml does not forward anyway. Handlers are thin: validate,
// authorise, call the same services as the REST routes. Errors answer 4xx
// `{message, extensions: {code}}` through the one error catalogue.
import { z } from 'zod';
import type { AppContext } from '../core/context.ts';
import { AppError, toAppError, validationError } from '../core/errors.ts';
import { assertServable } from '../http/middleware.ts';
import type { Actor, MemberActor } from '../core/actor.ts';
import { login } from '../auth/login.ts';
import { provisionDeps, provisionTenant } from '../tenants/provision.ts';
import { toTenantView, type TenantView } from '../tenants/records.ts';
import { changeStatus, updateTenant } from '../tenants/service.ts';
import { createTenantSchema, loginSchema, updateTenantSchema } from '../tenants/schemas.ts';
import { createCheckoutSession, createPortalSession } from '../billing/service.ts';
import { checkoutInputSchema, portalInputSchema } from '../billing/schemas.ts';
import { acceptInvitation, inviteMember, revokeInvitation, type InvitationView } from '../invitations/service.ts';
import { acceptInputSchema, inviteInputSchema, revokeInputSchema } from '../invitations/schemas.ts';
import { moveTenantArgsSchema } from '../tenants/move/schemas.ts';
import { moveDeps, requestMove, startMove } from '../tenants/move/service.ts';
import type { MoveView } from '../tenants/move/records.ts';
import { cancelSubscription, changePlan, resumeSubscription } from '../billing/subscription.ts';
import { cancelInputSchema, changePlanInputSchema } from '../billing/schemas.ts';
import type { BillingSummary } from '../billing/service.ts';
import { setPlanEntitlements, setTenantEntitlements } from '../entitlements/service.ts';
import { planIdSchema } from '../tenants/schemas.ts';
import { startSession } from '../auth/sessions.ts';
import { afterSignUp } from '../auth/account.ts';
import { changeRoleInputSchema, identityInputSchema, listMembersInputSchema } from '../members/schemas.ts';
import { changeRole, leaveTenant, listMembers, removeMember, transferOwnership, type MemberView } from '../members/service.ts';
import type {
  AcceptInvitationOutput,
  BillingInfo,
  MutationCancelSubscriptionArgs,
  MutationChangePlanArgs,
  MutationSetPlanEntitlementsArgs,
  MutationSetTenantEntitlementsArgs,
  PlanEntitlementsInfo,
  TenantEntitlementsInfo,
  CheckoutSessionOutput,
  CreateTenantOutput,
  InvitationInfo,
  InviteMemberOutput,
  LoginOutput,
  MutationAcceptInvitationArgs,
  MutationCreateCheckoutSessionArgs,
  MutationCreatePortalSessionArgs,
  MutationCreateTenantArgs,
  MutationInviteMemberArgs,
  MutationLoginArgs,
  MutationMoveTenantArgs,
  MutationReactivateTenantArgs,
  MutationRevokeInvitationArgs,
  MutationSuspendTenantArgs,
  MutationUpdateTenantArgs,
  MutationChangeMemberRoleArgs,
  MutationRemoveMemberArgs,
  MutationTransferOwnershipArgs,
  QueryListMembersArgs,
  MemberInfo,
  MembersPage,
  RemovedMember,
  TransferOwnershipOutput,
  PortalSessionOutput,
  TenantInfo,
  TenantMoveInfo,
  UpdateTenantOutput,
} from './generated/actions.ts';
import {
  isPlatformOperator,
  parseSession,
  requireMember,
  requirePlatformOperator,
  sessionVariablesSchema,
  type HasuraSession,
} from './session.ts';

export const ACTIONS_PATH = '/hasura/actions';

export const ACTION_NAMES = [
  'createTenant',
  'login',
  'updateTenant',
  'suspendTenant',
  'reactivateTenant',
  'createCheckoutSession',
  'createPortalSession',
  'inviteMember',
  'acceptInvitation',
  'revokeInvitation',
  'moveTenant',
  'changePlan',
  'cancelSubscription',
  'resumeSubscription',
  'setPlanEntitlements',
  'setTenantEntitlements',
  'listMembers',
  'changeMemberRole',
  'removeMember',
  'leaveTenant',
  'transferOwnership',
] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

/** The body Hasura POSTs to an action handler (hasura/README.md §1). */
export const actionPayloadSchema = z.object({
  action: z.object({ name: z.string() }),
  input: z.record(z.string(), z.unknown()).default({}),
  session_variables: sessionVariablesSchema,
  request_query: z.string().optional(),
});

// GraphQL sends explicit nulls for omitted optional arguments in some clients;
// the services' schemas treat "absent" and "unchanged" alike, so drop them.
const withoutNulls = (value: unknown): unknown =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null))
    : value;

// Argument schemas, checked against the generated argument types so the two
// cannot drift apart silently.
const createTenantArgs = z.object({
  input: z.preprocess(withoutNulls, createTenantSchema),
}) satisfies z.ZodType<MutationCreateTenantArgs, unknown>;
const loginArgs = loginSchema satisfies z.ZodType<MutationLoginArgs, unknown>;
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

const checkoutArgs = z.preprocess(withoutNulls, checkoutInputSchema) satisfies z.ZodType<MutationCreateCheckoutSessionArgs, unknown>;
const portalArgs = portalInputSchema satisfies z.ZodType<MutationCreatePortalSessionArgs, unknown>;
const inviteArgs = z.preprocess(withoutNulls, inviteInputSchema) satisfies z.ZodType<MutationInviteMemberArgs, unknown>;
const acceptArgs = z.preprocess(withoutNulls, acceptInputSchema) satisfies z.ZodType<MutationAcceptInvitationArgs, unknown>;
const revokeArgs = revokeInputSchema satisfies z.ZodType<MutationRevokeInvitationArgs, unknown>;
const moveArgs = z.preprocess(withoutNulls, moveTenantArgsSchema) satisfies z.ZodType<MutationMoveTenantArgs, unknown>;
const changePlanArgs = z.preprocess(withoutNulls, changePlanInputSchema) satisfies z.ZodType<MutationChangePlanArgs, unknown>;
const cancelArgs = z.preprocess(withoutNulls, cancelInputSchema) satisfies z.ZodType<MutationCancelSubscriptionArgs, unknown>;
// features/limits are checked by the entitlements service (it names the bad key).
const planEntitlementArgs = z.preprocess(
  withoutNulls,
  z.object({
    planId: planIdSchema,
    features: z.record(z.string(), z.unknown()).optional(),
    limits: z.record(z.string(), z.unknown()).optional(),
  }),
) satisfies z.ZodType<MutationSetPlanEntitlementsArgs, unknown>;
const tenantEntitlementArgs = z.object({
  tenantId: z.uuid(),
  features: z.record(z.string(), z.unknown()).nullish(),
  limits: z.record(z.string(), z.unknown()).nullish(),
}) satisfies z.ZodType<MutationSetTenantEntitlementsArgs, unknown>;
const listMembersArgs = z.preprocess(withoutNulls, listMembersInputSchema) satisfies z.ZodType<QueryListMembersArgs, unknown>;
const changeRoleArgs = changeRoleInputSchema satisfies z.ZodType<MutationChangeMemberRoleArgs, unknown>;
const identityArgs = identityInputSchema satisfies z.ZodType<MutationRemoveMemberArgs & MutationTransferOwnershipArgs, unknown>;
const noArgs = z.object({}).strict();

function parseArgs<T extends z.ZodType>(schema: T, input: unknown, action: ActionName): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) throw validationError(parsed.error, `${action} arguments`);
  return parsed.data;
}

function tenantInfo(view: TenantView): TenantInfo {
  return {
    id: view.id,
    name: view.name,
    slug: view.slug,
    status: view.status,
    isolation: view.isolation,
    plan: view.plan,
    customDomain: view.customDomain,
    customDomainVerified: view.customDomainVerified,
    trialEndsAt: view.trialEndsAt,
    suspendedAt: view.suspendedAt,
    cancelledAt: view.cancelledAt,
    branding: view.branding,
    createdAt: view.createdAt,
    updatedAt: view.updatedAt,
  };
}

function invitationInfo(view: InvitationView): InvitationInfo {
  return {
    id: view.id,
    tenantId: view.tenantId,
    email: view.email,
    role: view.role,
    status: view.status,
    invitedBy: view.invitedBy,
    expiresAt: view.expiresAt,
    acceptedAt: view.acceptedAt,
    acceptedBy: view.acceptedBy,
    revokedAt: view.revokedAt,
    createdAt: view.createdAt,
  };
}

function moveInfo(view: MoveView): TenantMoveInfo {
  return {
    id: view.id,
    tenantId: view.tenantId,
    from: view.from,
    to: view.to,
    state: view.state,
    error: view.error,
    createdAt: view.createdAt,
    finishedAt: view.finishedAt,
  };
}

function billingInfo(b: BillingSummary): BillingInfo {
  return {
    plan: b.plan,
    interval: b.interval,
    subscriptionStatus: b.subscriptionStatus,
    currentPeriodEnd: b.currentPeriodEnd,
    cancelAtPeriodEnd: b.cancelAtPeriodEnd,
    trialEndsAt: b.trialEndsAt,
    features: b.features,
  };
}

const actorOf = (session: HasuraSession): Actor => ({
  userId: session.userId,
  kind: session.apiKeyId ? 'api_key' : session.userId ? 'user' : 'system',
});

/** Acting as a person (member management, invitations): an API key's session is refused. */
async function requirePersonMember(ctx: AppContext, session: HasuraSession, min: 'owner' | 'admin' | 'member'): Promise<MemberActor> {
  const member = await requireMember(ctx.access, session, min);
  if (session.apiKeyId) throw new AppError('FORBIDDEN', 'This needs a signed-in person, not an API key');
  return { ...actorOf(session), ...member };
}

/** Reading as a member or as an API key of the tenant. */
async function requireReader(ctx: AppContext, session: HasuraSession): Promise<MemberActor> {
  return { ...actorOf(session), ...(await requireMember(ctx.access, session, 'member')) };
}

function memberInfo(view: MemberView): MemberInfo {
  return { ...view };
}

async function runAction(ctx: AppContext, name: ActionName, input: unknown, session: HasuraSession): Promise<unknown> {
  switch (name) {
    case 'createTenant': {
      const { input: args } = parseArgs(createTenantArgs, input, name);
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
    }
    case 'login': {
      const args = parseArgs(loginArgs, input, name);
      // The tenant is the one the auth webhook resolved from the Host (anonymous sessions carry it).
      const tenant = session.tenantId ? await ctx.resolver.byId(session.tenantId) : null;
      if (session.tenantId && !tenant) throw new AppError('TENANT_NOT_FOUND', 'No tenant at this address');
      if (tenant) assertServable(tenant);
      const succeeded = await ctx.authThrottle.attempt('login', { account: args.email });
      const result = await login(ctx, tenant, args.email, args.password);
      succeeded();
      return {
        token: result.token,
        expiresIn: result.expiresIn,
        refreshToken: result.refreshToken,
        refreshExpiresIn: result.refreshExpiresIn,
        userId: result.userId,
        role: result.role,
        tenantId: result.tenant?.id ?? null,
        tenantSlug: result.tenant?.slug ?? null,
      } satisfies LoginOutput;
    }
    case 'updateTenant': {
      const { input: patch } = parseArgs(updateTenantArgs, input, name);
      const member = await requireMember(ctx.access, session, 'admin');
      const { settings, ...view } = await updateTenant(
        ctx.pool,
        { ...actorOf(session), tenantId: member.tenantId, userId: member.userId },
        member.tenantId,
        patch,
        { env: ctx.env },
      );
      return { tenant: tenantInfo(view), settings } satisfies UpdateTenantOutput;
    }
    case 'suspendTenant':
    case 'reactivateTenant': {
      const { tenantId } = parseArgs(tenantIdArgs, input, name);
      await requirePlatformOperator(ctx.access, session);
      const view = await changeStatus(ctx.pool, tenantId, name === 'suspendTenant' ? 'suspend' : 'reactivate', actorOf(session));
      return tenantInfo(view) satisfies TenantInfo;
    }
    case 'createCheckoutSession': {
      const args = parseArgs(checkoutArgs, input, name);
      const member = await requireMember(ctx.access, session, 'admin');
      return (await createCheckoutSession(ctx, member, args)) satisfies CheckoutSessionOutput;
    }
    case 'createPortalSession': {
      const args = parseArgs(portalArgs, input, name);
      const member = await requireMember(ctx.access, session, 'admin');
      return (await createPortalSession(ctx, member, args)) satisfies PortalSessionOutput;
    }
    case 'inviteMember': {
      const args = parseArgs(inviteArgs, input, name);
      const { invitation, token } = await inviteMember(ctx, await requirePersonMember(ctx, session, 'admin'), args);
      return { invitation: invitationInfo(invitation), token } satisfies InviteMemberOutput;
    }
    case 'acceptInvitation': {
      const args = parseArgs(acceptArgs, input, name);
      // The tenant is the address the invitation is being accepted on (anonymous sessions carry it).
      if (!session.tenantId) throw new AppError('TENANT_NOT_FOUND', "Accept the invitation on the tenant's address");
      // An API key is not a person: it cannot accept for anyone.
      const userId = session.apiKeyId ? undefined : session.userId;
      const result = await acceptInvitation(ctx, { ...actorOf(session), tenantId: session.tenantId, userId }, args);
      return result satisfies AcceptInvitationOutput;
    }
    case 'revokeInvitation': {
      const args = parseArgs(revokeArgs, input, name);
      return invitationInfo(
        (await revokeInvitation(ctx, await requirePersonMember(ctx, session, 'admin'), args)).invitation,
      ) satisfies InvitationInfo;
    }
    case 'moveTenant': {
      const { tenantId, ...args } = parseArgs(moveArgs, input, name);
      await requirePlatformOperator(ctx.access, session);
      const deps = moveDeps(ctx);
      const move = await requestMove(deps, tenantId, args, actorOf(session));
      startMove(deps, move.id, actorOf(session));
      return moveInfo(move) satisfies TenantMoveInfo;
    }
    case 'changePlan': {
      const args = parseArgs(changePlanArgs, input, name);
      const member = await requireMember(ctx.access, session, 'admin');
      return billingInfo(await changePlan(ctx, member, args)) satisfies BillingInfo;
    }
    case 'cancelSubscription': {
      const args = parseArgs(cancelArgs, input, name);
      const member = await requireMember(ctx.access, session, 'admin');
      return billingInfo(await cancelSubscription(ctx, member, args)) satisfies BillingInfo;
    }
    case 'resumeSubscription': {
      const member = await requireMember(ctx.access, session, 'admin');
      return billingInfo(await resumeSubscription(ctx, member)) satisfies BillingInfo;
    }
    case 'setPlanEntitlements': {
      const { planId, ...entitlements } = parseArgs(planEntitlementArgs, input, name);
      await requirePlatformOperator(ctx.access, session);
      return (await setPlanEntitlements(ctx.pool, planId, entitlements, actorOf(session))) satisfies PlanEntitlementsInfo;
    }
    case 'setTenantEntitlements': {
      const { tenantId, features, limits } = parseArgs(tenantEntitlementArgs, input, name);
      await requirePlatformOperator(ctx.access, session);
      const body = { ...(features ? { features } : {}), ...(limits ? { limits } : {}) };
      return (await setTenantEntitlements(ctx.pool, tenantId, body, actorOf(session))) satisfies TenantEntitlementsInfo;
    }
    case 'listMembers': {
      const args = parseArgs(listMembersArgs, input, name);
      const page = await listMembers(ctx, await requireReader(ctx, session), args);
      return { members: page.members.map(memberInfo), nextCursor: page.nextCursor } satisfies MembersPage;
    }
    case 'changeMemberRole': {
      const args = parseArgs(changeRoleArgs, input, name);
      return memberInfo((await changeRole(ctx, await requirePersonMember(ctx, session, 'owner'), args)).member) satisfies MemberInfo;
    }
    case 'removeMember': {
      const args = parseArgs(identityArgs, input, name);
      return (await removeMember(ctx, await requirePersonMember(ctx, session, 'admin'), args)).removed satisfies RemovedMember;
    }
    case 'leaveTenant': {
      parseArgs(noArgs, input, name);
      return (await leaveTenant(ctx, await requirePersonMember(ctx, session, 'member'))).removed satisfies RemovedMember;
    }
    case 'transferOwnership': {
      const args = parseArgs(identityArgs, input, name);
      const result = await transferOwnership(ctx, await requirePersonMember(ctx, session, 'owner'), args);
      return { owner: memberInfo(result.owner), previousOwner: memberInfo(result.previousOwner) } satisfies TransferOwnershipOutput;
    }
    default: {
      const never: never = name;
      throw new AppError('NOT_FOUND', `Unknown action ${String(never)}`);
    }
  }
}

/** Hasura's action error shape. Hasura needs a 4xx to show the message, so a 5xx travels as 400 with its code. */
export interface ActionErrorBody {
  message: string;
  extensions: { code: string; details?: Record<string, unknown> };
}

export function actionError(err: unknown): { status: number; body: ActionErrorBody } {
  const appErr = toAppError(err);
  return {
    status: appErr.status >= 500 ? 400 : appErr.status,
    body: { message: appErr.message, extensions: { code: appErr.code, ...(appErr.details ? { details: appErr.details } : {}) } },
  };
}

/** Validates the payload and runs the action; throws AppError for anything the caller got wrong. */
export async function dispatchAction(ctx: AppContext, body: unknown): Promise<unknown> {
  const payload = actionPayloadSchema.safeParse(body);
  if (!payload.success) throw validationError(payload.error, 'action payload');
  const name = ACTION_NAMES.find((n) => n === payload.data.action.name);
  if (!name) throw new AppError('NOT_FOUND', `Unknown action ${payload.data.action.name}`);
  return runAction(ctx, name, payload.data.input, parseSession(payload.data.session_variables));
}
