// Entitlements' Hasura actions (registered in hasura/actions.ts): platform operators only.
import { z } from 'zod';
import { actorOf, defineAction, withoutNulls, type HasuraAction } from '../hasura/action.ts';
import { requirePlatformOperator } from '../hasura/session.ts';
import type {
  MutationSetPlanEntitlementsArgs,
  MutationSetTenantEntitlementsArgs,
  PlanEntitlementsInfo,
  TenantEntitlementsInfo,
} from '../hasura/generated/actions.ts';
import { planIdSchema } from '../tenants/schemas.ts';
import { setPlanEntitlements, setTenantEntitlements } from './service.ts';

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

export const ENTITLEMENT_ACTIONS: readonly HasuraAction[] = [
  defineAction('setPlanEntitlements', planEntitlementArgs, async (ctx, { planId, ...entitlements }, session) => {
    await requirePlatformOperator(ctx.access, session);
    return (await setPlanEntitlements(ctx.pool, planId, entitlements, actorOf(session))) satisfies PlanEntitlementsInfo;
  }),
  defineAction('setTenantEntitlements', tenantEntitlementArgs, async (ctx, { tenantId, features, limits }, session) => {
    await requirePlatformOperator(ctx.access, session);
    const body = { ...(features ? { features } : {}), ...(limits ? { limits } : {}) };
    return (await setTenantEntitlements(ctx.pool, tenantId, body, actorOf(session))) satisfies TenantEntitlementsInfo;
  }),
];
