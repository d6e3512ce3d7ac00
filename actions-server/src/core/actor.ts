// Who acts, in one type for every area. Transports build it from verified
// credentials only (a token, an API key, Hasura's session variables, a Stripe
// signature, the CLI or a job); services take it; db/tx.ts sets it for the
// transaction (app.actor, app.user_id, app.ip, app.user_agent), where the audit
// triggers read it (ARCHITECTURE.md §3, §4).
import type { TenantRole } from '../auth/tokens.ts';

/** The audit trail's actor_kind: a person, an API key, Hasura, or the platform itself. */
export type ActorKind = 'user' | 'api_key' | 'hasura' | 'stripe' | 'cron' | 'system' | 'cli';

export interface Actor {
  /** Unset: 'user' when userId is set, else 'system'. */
  kind?: ActorKind | undefined;
  /** The identity acting (a person, or the creator of the API key acting). */
  userId?: string | undefined;
  /** The tenant acted in, when there is one. */
  tenantId?: string | undefined;
  /** The caller's tenant role, capped by the database. */
  role?: TenantRole | undefined;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/** An identity acting inside one tenant. */
export type TenantActor = Actor & { tenantId: string; userId: string };

/** An identity acting inside one tenant with the role the database gave it. */
export type MemberActor = TenantActor & { role: TenantRole };
