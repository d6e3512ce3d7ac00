// Edge validation of member management (REST bodies and query, Hasura action arguments).
import { z } from 'zod';
import { TENANT_ROLES } from '../auth/tokens.ts';

export const memberRoleSchema = z.enum(TENANT_ROLES);

export const listMembersInputSchema = z
  .object({
    role: memberRoleSchema.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    // Opaque: what the previous page returned as nextCursor.
    cursor: z.string().min(1).max(200).optional(),
  })
  .strict();
export type ListMembersInput = z.infer<typeof listMembersInputSchema>;

export const changeRoleInputSchema = z.object({ identityId: z.uuid(), role: memberRoleSchema }).strict();
export type ChangeRoleInput = z.infer<typeof changeRoleInputSchema>;

export const identityInputSchema = z.object({ identityId: z.uuid() }).strict();
export type IdentityInput = z.infer<typeof identityInputSchema>;

// --- answers ----------------------------------------------------------------------------------

export const memberViewSchema = z
  .object({
    identityId: z.uuid(),
    email: z.string(),
    name: z.string().nullable(),
    role: memberRoleSchema,
    emailVerified: z.boolean(),
    joinedAt: z.iso.datetime({ offset: true }),
  })
  .strict()
  .meta({ id: 'Member' });

export const removedMemberSchema = z.object({ removed: z.object({ identityId: z.uuid(), role: memberRoleSchema }).strict() }).strict();
