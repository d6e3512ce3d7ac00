// The platform's audit trail: platform entries and every tenant's, newest first,
// filtered by source, tenant, action and dates, in pages.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import type { PlatformAuditEntry as Entry, PlatformAuditPage } from '../../../audit/platform.ts';
import { Form } from '../form.ts';
import { BASE } from '../router.ts';
import { PagedTable, useCursorPages } from './paging.ts';
import { when } from './vocabulary.ts';

const changes = (e: Entry): string => (e.newValues ? JSON.stringify(e.newValues).slice(0, 200) : '');

export function Audit(): VNode {
  const pages = useCursorPages<PlatformAuditPage>('/api/audit', 50);
  return html`<h1>Audit trail</h1>
    <p>Platform changes and every tenant's entries, newest first. Personal values stay in each tenant's own trail.</p>
    <${Form}
      id="audit-filters"
      fields=${[
        {
          name: 'source',
          label: 'Source',
          type: 'select',
          options: [
            { value: 'all', label: 'Platform and tenants' },
            { value: 'platform', label: 'Platform only' },
            { value: 'tenants', label: 'Tenants only' },
          ],
          value: 'all',
        },
        { name: 'tenantId', label: 'Tenant id', hint: "A tenant's id, from its page" },
        { name: 'action', label: 'Action', hint: 'Exact (tenant.suspended) or a prefix ending in * (membership.*)' },
        { name: 'from', label: 'From', type: 'date' },
        { name: 'to', label: 'To (before)', type: 'date' },
      ]}
      submitLabel="Show entries"
      onSubmit=${pages.apply}
    />
    <${PagedTable}
      pages=${pages}
      rowsOf=${(p: PlatformAuditPage) => p.entries}
      caption="Audit entries"
      rowKey=${(e: Entry) => `${e.source}-${e.tenantId ?? ''}-${e.seq}`}
      empty="No entries match."
      columns=${[
        { label: 'When', cell: (e: Entry) => when(e.createdAt) },
        {
          label: 'Where',
          cell: (e: Entry) =>
            e.source === 'platform'
              ? 'platform'
              : e.tenantId && e.tenantSlug
                ? html`<a href=${`${BASE}/tenants/${e.tenantId}`}>${e.tenantSlug}</a>`
                : (e.tenantId ?? ''),
        },
        { label: 'Action', cell: (e: Entry) => e.action },
        { label: 'On', cell: (e: Entry) => `${e.entityType} ${e.entityId ?? ''}` },
        { label: 'By', cell: (e: Entry) => [e.actor.kind, e.actor.role].filter(Boolean).join(' ') },
        { label: 'Changes', cell: (e: Entry) => changes(e) },
      ]}
    />`;
}
