// Every tenant: search, filters (status, plan, tier), sort, pages; each links to its page.
import { html } from 'htm/preact';
import { useCallback } from 'preact/hooks';
import type { VNode } from 'preact';
import { api } from '../api.ts';
import { Form, type Values } from '../form.ts';
import { ErrorNote } from '../resource.ts';
import { BASE } from '../router.ts';
import { Table } from '../table.ts';
import { Pager, queryOf, useCursorPages, type CursorPage } from './paging.ts';
import { choices, PLANS, STATUSES, TIERS, when, type TenantView } from './vocabulary.ts';

interface TenantPage extends CursorPage {
  tenants: TenantView[];
}

const SORTS = [
  { value: 'created', label: 'Created' },
  { value: 'name', label: 'Name' },
  { value: 'slug', label: 'Address (slug)' },
  { value: 'plan', label: 'Plan' },
  { value: 'status', label: 'Status' },
];

export function Tenants(): VNode {
  const fetchPage = useCallback(
    (filters: Values, cursor: string | null) => api<TenantPage>('GET', `/api/tenants${queryOf(filters, cursor, { limit: '25' })}`),
    [],
  );
  const pages = useCursorPages(fetchPage);
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
    <${ErrorNote} error=${pages.error} />
    ${
      pages.page
        ? html`<${Table}
              caption="Tenants"
              rows=${pages.page.tenants}
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
            />
            <${Pager} pages=${pages} label="Tenant pages" />`
        : null
    }`;
}
