// What a new password must be: 8 to 200 characters, and not one of the common
// passwords shipped beside this file (compared case-insensitively). Applied
// wherever a password is chosen: sign-up, invitation acceptance, change, reset.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const COMMON = new Set(
  readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
    .split('\n')
    .map((l) => l.trim().toLowerCase())
    .filter((l) => l && !l.startsWith('#')),
);

export const MIN_PASSWORD_LENGTH = 8;

export function isCommonPassword(password: string): boolean {
  return COMMON.has(password.toLowerCase());
}

/** A password someone is choosing now (not one they are typing to sign in). */
export const newPasswordSchema = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(200)
  .refine((p) => !isCommonPassword(p), 'is one of the most common passwords; choose another');
