// The API's enumerations (README "REST API") as the platform pages offer them.
export const PLANS = ['free', 'pro', 'enterprise', 'custom'];
export const STATUSES = ['trial', 'active', 'suspended', 'migrating', 'cancelled', 'archived'];
export const TIERS = ['schema', 'pooled', 'database'];

/** Select options, with a first one meaning "any" (an empty value the query leaves out). */
export const choices = (values: string[], any?: string) => [
  ...(any === undefined ? [] : [{ value: '', label: any }]),
  ...values.map((v) => ({ value: v, label: v })),
];

/** A timestamp as people read it, in UTC so every admin sees the same. */
export const when = (iso: string | null): string => (iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '—');
