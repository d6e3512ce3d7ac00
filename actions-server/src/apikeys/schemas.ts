// Edge validation of API key management.
import { z } from 'zod';

export const createApiKeyInputSchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    // Hasura's names: a key is a member or a tenant_admin of its tenant.
    role: z.enum(['member', 'tenant_admin']).default('member'),
    // Optional expiry, in the future.
    expiresAt: z.iso
      .datetime({ offset: true })
      .refine((v) => Date.parse(v) > Date.now(), 'must be in the future')
      .optional(),
  })
  .strict();
export type CreateApiKeyInput = z.infer<typeof createApiKeyInputSchema>;

export const apiKeyIdInputSchema = z.object({ apiKeyId: z.uuid() }).strict();
export type ApiKeyIdInput = z.infer<typeof apiKeyIdInputSchema>;

// --- answers ----------------------------------------------------------------------------------

const isoTime = z.iso.datetime({ offset: true });

export const apiKeyViewSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string(),
    role: z.enum(['member', 'tenant_admin']),
    createdBy: z.uuid().nullable(),
    createdAt: isoTime,
    expiresAt: isoTime.nullable(),
    lastUsedAt: isoTime.nullable(),
    revokedAt: isoTime.nullable(),
  })
  .strict()
  .meta({ id: 'ApiKey' });
