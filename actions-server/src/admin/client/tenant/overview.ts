// The tenant at a glance: its name, plan and status.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { api } from '../api.ts';
import { hostTenant } from '../host.ts';
import { ErrorNote, useResource } from '../resource.ts';

interface TenantAnswer {
  tenant: { name: string; slug: string; status: string; plan: string };
}

export function Overview(): VNode {
  const { id } = hostTenant();
  const { data, error } = useResource(() => api<TenantAnswer>('GET', `/api/tenants/${id}`), [id]);
  return html`<h1>Overview</h1>
    <${ErrorNote} error=${error} />
    ${
      data
        ? html`<dl class="facts">
            <dt>Name</dt>
            <dd>${data.tenant.name}</dd>
            <dt>Address</dt>
            <dd>${data.tenant.slug}</dd>
            <dt>Status</dt>
            <dd>${data.tenant.status}</dd>
            <dt>Plan</dt>
            <dd>${data.tenant.plan}</dd>
          </dl>`
        : null
    }`;
}
