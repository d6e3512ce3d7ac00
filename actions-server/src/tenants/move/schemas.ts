// Edge validation of a move request (REST body, Hasura action arguments, CLI flags).
import { z } from 'zod';
import { TENANT_DATABASE_ENV_RE } from '../../core/config.ts';
import { isolationSchema } from '../schemas.ts';

const moveFields = {
  to: isolationSchema,
  // A database tenant on another server: the TENANT_DATABASE_URL_<NAME> setting naming it.
  databaseUrlEnv: z.string().regex(TENANT_DATABASE_ENV_RE, 'must name a TENANT_DATABASE_URL_<NAME> setting').optional(),
};

const databaseUrlEnvOnlyForDatabase = (v: { to: string; databaseUrlEnv?: string | undefined }) =>
  v.databaseUrlEnv === undefined || v.to === 'database';
const refinement = { message: 'databaseUrlEnv goes with "to": "database"', path: ['databaseUrlEnv'] };

export const moveTenantSchema = z.object(moveFields).strict().refine(databaseUrlEnvOnlyForDatabase, refinement);
export type MoveTenantInput = z.infer<typeof moveTenantSchema>;

/** The Hasura action's arguments: the tenant is named (platform administrators act on any tenant). */
export const moveTenantArgsSchema = z
  .object({ tenantId: z.uuid(), ...moveFields })
  .strict()
  .refine(databaseUrlEnvOnlyForDatabase, refinement);
