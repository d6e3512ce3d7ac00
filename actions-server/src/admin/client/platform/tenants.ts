// Every tenant: search, filters (status, plan, tier), sort, pages; each links to its page.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import type { TenantPage } from '../../../tenants/directory.ts';
import type { TenantView } from '../../../tenants/records.ts';
import { Form } from '../form.ts';
import { BASE } from '../router.ts';
import { PagedTable, useCursorPages } from './paging.ts';
import { choices, PLANS, STATUSES, TIERS, when } from './vocabulary.ts';

const SORTS = [
  { value: 'created', label: 'Created' },
  { value: 'name', label: 'Name' },
  { value: 'slug', label: 'Address (slug)' },
  { value: 'plan', label: 'Plan' },
  { value: 'status', label: 'Status' },
];

export function Tenants(): VNode {
  const pages = useCursorPages<TenantPage>('/api/tenants', 25);
  return html`<h1>Tenants</h1>
    <${Form}
      id="tenant-filters"
      fields=${[
        { name: 'q', label: 'Search', hint: 'Part of a name, address or custom domain' },
        { name: 'status', label: 'Status', type: 'select', options: choices(STATUSES, 'Any status') },
        { name: 'plan', label: 'Plan', type: 'select', options: choices(PLANS, 'Any plan') },
        { name: 'isolation', label: 'Tier', type: 'select', options: choices(TIERS, 'Any tier') },
        { name: 'sort', label: 'Sort by', type: 'select', options: SORTS, value: 'created' },
        {
          name: 'order',
          label: 'Order',
          type: 'select',
          options: [
            { value: 'desc', label: 'Descending' },
            { value: 'asc', label: 'Ascending' },
          ],
          value: 'desc',
        },
      ]}
      submitLabel="Show tenants"
      onSubmit=${pages.apply}
    />
    <${PagedTable}
      pages=${pages}
      rowsOf=${(p: TenantPage) => p.tenants}
      caption="Tenants"
      rowKey=${(t: TenantView) => t.slug}
      empty="No tenant matches."
      columns=${[
        { label: 'Name', cell: (t: TenantView) => html`<a href=${`${BASE}/tenants/${t.id}`}>${t.name}</a>` },
        { label: 'Address', cell: (t: TenantView) => t.slug },
        { label: 'Status', cell: (t: TenantView) => t.status },
        { label: 'Plan', cell: (t: TenantView) => t.plan },
        { label: 'Tier', cell: (t: TenantView) => t.isolation },
        { label: 'Created', cell: (t: TenantView) => when(t.createdAt) },
      ]}
    />`;
}
