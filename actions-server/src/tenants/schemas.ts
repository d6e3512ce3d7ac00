// Edge validation for tenant input. The database re-checks the slug rules
// (tenants_slug_format, tenants_slug_not_reserved), so these only give callers
// a clear message early.
import { z } from 'zod';
import { TENANT_DATABASE_ENV_RE } from '../core/config.ts';
import { newPasswordSchema } from '../auth/password-policy.ts';

export const SLUG_RE = /^[a-z][a-z0-9-]{1,39}$/;

export const slugSchema = z
  .string({ error: 'slug is required' })
  .regex(SLUG_RE, 'a slug is 2-40 characters: lower-case letters, digits and hyphens, starting with a letter');

export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'must be an email address');

// A chosen password: length and the common-password list (auth/password-policy.ts).
export const passwordSchema = newPasswordSchema;

export const planIdSchema = z.string().regex(/^[a-z][a-z0-9_]{1,30}$/, 'unknown plan');

export const isolationSchema = z.enum(['schema', 'pooled', 'database']);

export const brandingSchema = z
  .object({
    appName: z.string().max(100).optional(),
    logoUrl: z.url().max(2000).optional(),
    primaryColor: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
    secondaryColor: z.string().regex(/^#[0-9a-fA-F]{6}$/).optional(),
  })
  .strict();

export const createTenantSchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    slug: slugSchema,
    ownerEmail: emailSchema,
    ownerName: z.string().trim().min(1).max(200),
    ownerPassword: passwordSchema,
    plan: planIdSchema.default('free'),
    trial: z.boolean().default(false),
    // Platform admins only (provisionTenant refuses them to anyone else): the
    // tier, and for a database tenant the setting naming another server.
    isolation: isolationSchema.optional(),
    databaseUrlEnv: z
      .string()
      .regex(TENANT_DATABASE_ENV_RE, 'must name a TENANT_DATABASE_URL_<NAME> setting')
      .optional(),
  })
  .strict()
  .refine((v) => v.databaseUrlEnv === undefined || v.isolation === 'database', {
    message: 'databaseUrlEnv goes with isolation "database"',
    path: ['databaseUrlEnv'],
  });
export type CreateTenantInput = z.infer<typeof createTenantSchema>;

export const domainSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(/^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'must be a domain name such as chat.example.com');

export const updateTenantSchema = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    branding: brandingSchema.optional(),
    settings: z.record(z.string(), z.unknown()).optional(),
    customDomain: domainSchema.nullable().optional(),
  })
  .strict()
  .refine((v) => Object.keys(v).length > 0, 'nothing to update');
export type UpdateTenantInput = z.infer<typeof updateTenantSchema>;

export const loginSchema = z.object({ email: emailSchema, password: z.string().min(1).max(200) }).strict();
