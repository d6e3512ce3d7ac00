// What every transport gets: configuration, logger, database, resolver, tokens.
import type Stripe from 'stripe';
import type { Env } from './config.ts';
import type { Logger } from './log.ts';
import type { Pool } from '../db/tx.ts';
import type { TenantResolver, ResolvedTenant } from '../domains/resolver.ts';
import type { TokenService, VerifiedToken, TenantRole } from '../auth/tokens.ts';
import type { AccessCache } from '../auth/access.ts';
import type { ProvisioningStep } from '../tenants/provision.ts';
import type { TenantDatabases } from '../tenants/databases.ts';
import type { SourceCapacity } from '../tenants/placement.ts';
import type { Redis } from 'ioredis';
import type { LimitsService } from '../limits/service.ts';
import type { RateLimitService } from '../limits/rate-limits.ts';
import type { ApiGuard } from '../limits/api-guard.ts';
import type { UsageService } from '../usage/service.ts';
import type { Lifecycle } from '../lifecycle/state.ts';
import type { AddressLimiter, AuthThrottle } from '../limits/throttle.ts';
import type { AnalyticsForwarder } from '../analytics/service.ts';

export interface AppContext {
  env: Env;
  log: Logger;
  pool: Pool;
  resolver: TenantResolver;
  tokens: TokenService;
  /** Memberships, platform-admin flags, sessions and API keys, cached in process and dropped by NOTIFY. */
  access: AccessCache;
  /** Steps run after a tenant's database transaction commits (Hasura exposure, ...). */
  provisioningSteps: ProvisioningStep[];
  /** Steps run before a tenant is hard-deleted. */
  deprovisioningSteps: ((tenantId: string) => Promise<void>)[];
  /** Problems this process runs with but reports (boot log, readiness): e.g. a tenant's database server it has no URL for. */
  deploymentProblems: string[];
  /** Database-tier tenants' databases and their bounded pools. */
  databases: TenantDatabases;
  /** The Hasura source cap, present when Hasura is configured. */
  sourceCapacity?: SourceCapacity;
  /** The Stripe client; absent when billing is disabled (no STRIPE_SECRET_KEY). */
  stripe?: Stripe;
  /** Present when REDIS_URL is set. */
  redis?: Redis;
  /** Plan limits with per-tenant overrides (cached). */
  limits: LimitsService;
  /** Per-plan minute/hour rate limits (Redis or memory). */
  rateLimits: RateLimitService;
  /** API-call metering (batched writes) and the monthly quota. */
  usage: UsageService;
  /** Rate limit + quota + count for one API call: the REST middleware and the Hasura auth webhook. */
  apiGuard: ApiGuard;
  /** Starting, serving or draining, and the requests in flight (set by the server; health probes and shutdown read it). */
  lifecycle?: Lifecycle;
  /** Sign-in, sign-up and recovery attempts per address and per account. */
  authThrottle: AuthThrottle;
  /** Anonymous requests per client address (never counted against a tenant). */
  anonymousLimiter: AddressLimiter;
  /** Forwards analytics events to PostHog (a no-op without POSTHOG_API_KEY). */
  analytics: AnalyticsForwarder;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Tenant named by the Host (or trusted header), null on the platform host. */
    tenant?: ResolvedTenant | null;
    auth?: VerifiedToken;
    /** The caller's current role in req.tenant, checked against the database. */
    memberRole?: TenantRole;
    requestId?: string;
  }
}
