// The answer about a custom domain's proof of ownership (GET /api/tenants/:id/domain and friends).
import { z } from 'zod';

const isoTime = z.iso.datetime({ offset: true });

export const domainStatusSchema = z
  .object({
    domain: z.string(),
    state: z.enum(['pending', 'verified', 'expired']),
    verified: z.boolean(),
    method: z.enum(['dns', 'manual']).nullable(),
    /** What the tenant publishes. */
    record: z.object({ type: z.literal('TXT'), name: z.string(), value: z.string() }).strict(),
    /** Present when the platform requires the domain to point at it. */
    cname: z.object({ name: z.string(), target: z.string() }).strict().nullable(),
    lastCheckedAt: isoTime.nullable(),
    lastResult: z.string().nullable(),
    nextCheckAt: isoTime.nullable(),
    expiresAt: isoTime.nullable(),
    missingSince: isoTime.nullable(),
    verifiedAt: isoTime.nullable(),
  })
  .strict()
  .meta({ id: 'DomainStatus' });
