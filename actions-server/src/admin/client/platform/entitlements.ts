// A tenant's feature and limit overrides on top of its plan: each feature on,
// off or the plan's; each limit a number (-1: unlimited) or empty for the plan's.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import type { LimitKey, TenantEntitlements as EntitlementsView } from '../../../entitlements/service.ts';
import { api } from '../api.ts';
import { Form, type Field, type Values } from '../form.ts';

const LIMIT_LABELS: Record<LimitKey, string> = {
  max_users: 'Users',
  max_channels: 'Channels',
  max_storage_bytes: 'Storage (bytes)',
  max_api_calls_month: 'API calls a month',
  rate_limit_per_minute: 'Requests a minute',
  rate_limit_per_hour: 'Requests an hour',
};

const PLAN_VALUE = 'plan';
const featureChoice = (o: boolean | undefined) => (o === undefined ? PLAN_VALUE : o ? 'on' : 'off');

function fieldsOf(e: EntitlementsView): Field[] {
  const features = [...new Set([...Object.keys(e.features), ...Object.keys(e.availableIn)])].sort();
  return [
    ...features.map((f): Field => ({
      name: `features.${f}`,
      label: `Feature ${f}`,
      hint: `Now ${e.features[f] ? 'on' : 'off'}.`,
      type: 'select',
      value: featureChoice(e.overrides.features[f]),
      options: [
        { value: PLAN_VALUE, label: "The plan's" },
        { value: 'on', label: 'On' },
        { value: 'off', label: 'Off' },
      ],
    })),
    ...(Object.keys(LIMIT_LABELS) as LimitKey[]).map((k): Field => ({
      name: `limits.${k}`,
      label: `${LIMIT_LABELS[k]} limit`,
      type: 'number',
      value: e.overrides.limits[k] === undefined ? '' : String(e.overrides.limits[k]),
      hint: `Empty: the plan's; -1: unlimited. Now ${e.limits[k] ?? '—'}.`,
    })),
  ];
}

/** The request body: every field sent, so a cleared one removes its override (null). */
function bodyOf(values: Values): { features: Record<string, boolean | null>; limits: Record<string, number | string | null> } {
  const features: Record<string, boolean | null> = {};
  const limits: Record<string, number | string | null> = {};
  for (const [name, raw] of Object.entries(values)) {
    const value = String(raw).trim();
    if (name.startsWith('features.')) features[name.slice(9)] = value === PLAN_VALUE ? null : value === 'on';
    // A number the API checks; anything else goes as typed so its refusal names the field.
    else if (name.startsWith('limits.'))
      limits[name.slice(7)] = value === '' ? null : Number.isFinite(Number(value)) ? Number(value) : value;
  }
  return { features, limits };
}

export function Entitlements({
  tenantId,
  entitlements,
  changed,
}: {
  tenantId: string;
  entitlements: EntitlementsView;
  changed: () => void;
}): VNode {
  const fields = fieldsOf(entitlements);
  return html`<section aria-labelledby="overrides-title">
    <h2 id="overrides-title">Features and limits</h2>
    <p>Overrides on top of the ${entitlements.plan} plan, recorded in the tenant's audit trail.</p>
    <${Form}
      key=${JSON.stringify(entitlements.overrides)}
      id="overrides"
      fields=${fields}
      submitLabel="Save overrides"
      onSubmit=${async (values: Values) => {
        await api('PUT', `/api/tenants/${tenantId}/entitlements`, bodyOf(values));
        changed();
      }}
    />
  </section>`;
}
