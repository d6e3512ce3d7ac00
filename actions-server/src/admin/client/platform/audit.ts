// The platform's audit trail: platform entries and every tenant's, newest first,
// filtered by source, tenant, action and dates, in pages.
import { html } from 'htm/preact';
import { useCallback } from 'preact/hooks';
import type { VNode } from 'preact';
import { api } from '../api.ts';
import { Form, type Values } from '../form.ts';
import { ErrorNote } from '../resource.ts';
import { BASE } from '../router.ts';
import { Table } from '../table.ts';
import { Pager, queryOf, useCursorPages, type CursorPage } from './paging.ts';
import { when } from './vocabulary.ts';

interface Entry {
  source: 'platform' | 'tenant';
  tenantId: string | null;
  tenantSlug: string | null;
  seq: string;
  action: string;
  entityType: string;
  entityId: string | null;
  actor: { kind: string; id: string | null; role: string | null };
  newValues: Record<string, unknown> | null;
  createdAt: string;
}

interface AuditPage extends CursorPage {
  entries: Entry[];
}

const changes = (e: Entry): string => (e.newValues ? JSON.stringify(e.newValues).slice(0, 200) : '');

export function Audit(): VNode {
  const fetchPage = useCallback(
    (filters: Values, cursor: string | null) => api<AuditPage>('GET', `/api/audit${queryOf(filters, cursor, { limit: '50' })}`),
    [],
  );
  const pages = useCursorPages(fetchPage);
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
    <${ErrorNote} error=${pages.error} />
    ${
      pages.page
        ? html`<${Table}
              caption="Audit entries"
              rows=${pages.page.entries}
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
            />
            <${Pager} pages=${pages} label="Audit pages" />`
        : null
    }`;
}
