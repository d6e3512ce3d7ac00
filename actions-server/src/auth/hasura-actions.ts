// The login Hasura action (registered in hasura/actions.ts).
import { defineAction, type HasuraAction } from '../hasura/action.ts';
import type { LoginOutput, MutationLoginArgs } from '../hasura/generated/actions.ts';
import type { z } from 'zod';
import { AppError } from '../core/errors.ts';
import { assertServable } from '../http/middleware.ts';
import { loginSchema } from '../tenants/schemas.ts';
import { login } from './login.ts';

const loginArgs = loginSchema satisfies z.ZodType<MutationLoginArgs, unknown>;

export const AUTH_ACTIONS: readonly HasuraAction[] = [
  defineAction('login', loginArgs, async (ctx, args, session) => {
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
  }),
];
