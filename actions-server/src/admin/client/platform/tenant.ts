// One tenant as a platform administrator sees it: facts, status actions
// (suspend, reactivate), its plan, feature and limit overrides, usage month by
// month, and its tier with a move between tiers followed step by step.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { api } from '../api.ts';
import { Form } from '../form.ts';
import { ErrorNote, useAction, useResource } from '../resource.ts';
import { BASE } from '../router.ts';
import type { ViewProps } from '../views.ts';
import type { TenantEntitlements } from '../../../entitlements/service.ts';
import { Entitlements } from './entitlements.ts';
import { Move } from './move.ts';
import { UsageChart } from './usage.ts';
import type { TenantView } from '../../../tenants/records.ts';
import { choices, PLANS, when } from './vocabulary.ts';

/** Which status actions the API accepts from each status (tenants/service.ts). */
const CAN_SUSPEND = new Set(['trial', 'active']);
const CAN_REACTIVATE = new Set(['suspended', 'cancelled']);

function StatusActions({ tenant, changed }: { tenant: TenantView; changed: () => void }): VNode {
  const { error, run } = useAction();
  const act = (action: 'suspend' | 'reactivate') => async () => {
    if (await run(() => api('POST', `/api/tenants/${tenant.id}/${action}`))) changed();
  };
  return html`<section aria-labelledby="status-title">
    <h2 id="status-title">Status</h2>
    <p>This tenant is <strong data-status>${tenant.status}</strong>${tenant.suspendedAt ? ` since ${when(tenant.suspendedAt)}` : ''}.</p>
    <div class="row">
      ${CAN_SUSPEND.has(tenant.status) ? html`<button type="button" class="danger" onClick=${act('suspend')}>Suspend</button>` : null}
      ${CAN_REACTIVATE.has(tenant.status) ? html`<button type="button" onClick=${act('reactivate')}>Reactivate</button>` : null}
    </div>
    <${ErrorNote} error=${error} />
  </section>`;
}

function Plan({ tenant, changed }: { tenant: TenantView; changed: () => void }): VNode {
  return html`<section aria-labelledby="plan-title">
    <h2 id="plan-title">Plan</h2>
    <p>Set by hand, without Stripe (custom and manual contracts).</p>
    <${Form}
      key=${tenant.plan}
      id="plan"
      fields=${[{ name: 'plan', label: 'Plan', type: 'select', options: choices(PLANS), value: tenant.plan }]}
      submitLabel="Set plan"
      onSubmit=${async (values: Record<string, unknown>) => {
        await api('PUT', `/api/tenants/${tenant.id}/plan`, { plan: values['plan'] });
        changed();
      }}
    />
  </section>`;
}

export function TenantPage({ params }: ViewProps): VNode {
  const id = params['id'] ?? '';
  const tenant = useResource(() => api<{ tenant: TenantView }>('GET', `/api/tenants/${id}`), [id]);
  const entitlements = useResource(() => api<{ entitlements: TenantEntitlements }>('GET', `/api/tenants/${id}/features`), [id]);
  const changed = () => {
    tenant.reload();
    entitlements.reload();
  };
  const t = tenant.data?.tenant;
  return html`<p><a href=${`${BASE}/tenants`}>All tenants</a></p>
    <h1>${t ? t.name : 'Tenant'}</h1>
    <${ErrorNote} error=${tenant.error} />
    ${
      t
        ? html`<dl class="facts">
              <dt>Address</dt>
              <dd>${t.slug}</dd>
              <dt>Custom domain</dt>
              <dd>${t.customDomain ?? '—'}</dd>
              <dt>Plan</dt>
              <dd>${t.plan}</dd>
              <dt>Tier</dt>
              <dd data-tier>${t.isolation}</dd>
              <dt>Created</dt>
              <dd>${when(t.createdAt)}</dd>
            </dl>
            <${StatusActions} tenant=${t} changed=${changed} />
            <${Plan} tenant=${t} changed=${changed} />
            <${ErrorNote} error=${entitlements.error} />
            ${entitlements.data ? html`<${Entitlements} tenantId=${id} entitlements=${entitlements.data.entitlements} changed=${changed} />` : null}
            <${UsageChart} tenantId=${id} limits=${entitlements.data?.entitlements.limits} />
            <${Move} tenant=${t} moved=${changed} />`
        : null
    }`;
}
