// The events a tenant can subscribe an endpoint to. Each is emitted by the
// database (a trigger calling public.webhook_emit) in the transaction that made
// the change, so every path (REST, Hasura, SQL, jobs) announces it.
export const EVENT_CATALOGUE = {
  'tenant.updated': "the tenant's name, branding, custom domain, status or settings changed",
  'member.added': 'someone became a member (invitation, API, Hasura or SQL)',
  'member.removed': 'a membership ended',
  'member.role_changed': "a member's role changed",
  'invitation.accepted': 'an invitation was accepted',
  'subscription.changed': 'plan, subscription status, interval, renewal or cancellation changed',
  'usage.threshold_reached': "a capped meter's usage reached 80% or 100% of its cap in the open period",
} as const;

export type EventType = keyof typeof EVENT_CATALOGUE;
export const EVENT_TYPES = Object.keys(EVENT_CATALOGUE) as EventType[];

/**
 * When each attempt is made, counted from the previous failure: the first at
 * once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (8 attempts, ~27.5 h).
 */
export const RETRY_SCHEDULE_MS: readonly number[] = [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const MAX_ATTEMPTS = RETRY_SCHEDULE_MS.length;
/** An endpoint failing for this long without one success is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * 3_600_000;
