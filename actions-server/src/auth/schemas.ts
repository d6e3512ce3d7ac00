// Edge validation of the account routes (REST bodies; the Hasura actions reuse them).
import { z } from 'zod';
import { emailSchema } from '../tenants/schemas.ts';
import { newPasswordSchema } from './password-policy.ts';

// Any string of sane length: a malformed token is refused like a wrong one.
const tokenString = z.string().min(1).max(200);

export const refreshInputSchema = z.object({ refreshToken: tokenString }).strict();
export const changePasswordInputSchema = z.object({ currentPassword: z.string().min(1).max(200), newPassword: newPasswordSchema }).strict();
export const forgotInputSchema = z.object({ email: emailSchema }).strict();
export const resetInputSchema = z.object({ token: tokenString, password: newPasswordSchema }).strict();
export const verifyEmailInputSchema = z.object({ token: tokenString }).strict();
