// Edge validation of the account routes (REST bodies; the Hasura actions reuse them).
import { z } from 'zod';
import { emailSchema } from '../tenants/schemas.ts';
import { newPasswordSchema } from './password-policy.ts';
import { PLATFORM_ADMIN_ROLE, TENANT_ROLES } from './tokens.ts';

// Any string of sane length: a malformed token is refused like a wrong one.
const tokenString = z.string().min(1).max(200);

export const refreshInputSchema = z.object({ refreshToken: tokenString }).strict();
export const changePasswordInputSchema = z.object({ currentPassword: z.string().min(1).max(200), newPassword: newPasswordSchema }).strict();
export const forgotInputSchema = z.object({ email: emailSchema }).strict();
export const resetInputSchema = z.object({ token: tokenString, password: newPasswordSchema }).strict();
export const verifyEmailInputSchema = z.object({ token: tokenString }).strict();

// --- answers ----------------------------------------------------------------------------------

/** A session's tokens: a short access token and a single-use refresh token (lifetimes in seconds). */
export const sessionTokensSchema = z
  .object({
    token: z.string(),
    expiresIn: z.number().int(),
    refreshToken: z.string(),
    refreshExpiresIn: z.number().int(),
  })
  .strict()
  .meta({ id: 'SessionTokens' });

export const loginResultSchema = sessionTokensSchema
  .extend({
    userId: z.uuid(),
    role: z.enum([...TENANT_ROLES, PLATFORM_ADMIN_ROLE]),
    tenant: z.object({ id: z.uuid(), slug: z.string() }).strict().nullable(),
  })
  .meta({ id: 'LoginResult' });

export const sessionsEndedSchema = z.object({ status: z.literal('ok'), sessionsEnded: z.number().int() }).strict();
