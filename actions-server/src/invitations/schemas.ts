// Edge validation for invitations (REST bodies and Hasura action inputs alike).
import { z } from 'zod';
import { emailSchema } from '../tenants/schemas.ts';

/** Owners are made by provisioning (or a future ownership transfer), never by invitation. */
export const INVITABLE_ROLES = ['admin', 'member'] as const;
export type InvitableRole = (typeof INVITABLE_ROLES)[number];

export const inviteInputSchema = z
  .object({
    email: emailSchema,
    role: z.enum(INVITABLE_ROLES).default('member'),
  })
  .strict();
export type InviteInput = z.infer<typeof inviteInputSchema>;

export const revokeInputSchema = z.object({ invitationId: z.uuid() }).strict();
export type RevokeInput = z.infer<typeof revokeInputSchema>;

export const listInputSchema = z.object({}).strict();
export type ListInput = z.infer<typeof listInputSchema>;

export const acceptInputSchema = z
  .object({
    // Any string: a malformed token is refused like a wrong one (INVITATION_INVALID).
    token: z.string().min(1).max(200),
    // For a person without an account yet: the account to create.
    name: z.string().trim().min(1).max(200).optional(),
    // Creating an account: its new password; an existing account: its password
    // (instead of a Bearer token).
    password: z.string().min(1).max(200).optional(),
  })
  .strict();
export type AcceptInput = z.infer<typeof acceptInputSchema>;

// --- answers ----------------------------------------------------------------------------------

const isoTime = z.iso.datetime({ offset: true });

export const invitationViewSchema = z
  .object({
    id: z.uuid(),
    tenantId: z.uuid(),
    email: z.string(),
    role: z.enum(INVITABLE_ROLES),
    status: z.enum(['pending', 'accepted', 'revoked', 'expired']),
    invitedBy: z.uuid(),
    expiresAt: isoTime,
    acceptedAt: isoTime.nullable(),
    acceptedBy: z.uuid().nullable(),
    revokedAt: isoTime.nullable(),
    createdAt: isoTime,
  })
  .strict()
  .meta({ id: 'Invitation' });
