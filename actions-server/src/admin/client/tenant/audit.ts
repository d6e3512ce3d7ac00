// The audit trail: filters (action, from, to), pages, and an export of what
// the filters select (CSV or JSON).
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import { api, download } from '../api.ts';
import { Form, nest, type Values } from '../form.ts';
import { hostTenant, tenantApi } from '../host.ts';
import { ErrorNote, useAction, useResource } from '../resource.ts';
import { LoadedTable } from '../table.ts';

interface Entry {
  seq: number;
  action: string;
  entityType: string;
  entityId: string | null;
  actor: { kind: string; id: string | null; role: string | null };
  createdAt: string;
}

type Filters = Record<string, string>;

interface AuditPage {
  entries: Entry[];
  nextCursor: string | null;
}

const query = (params: Filters) => new URLSearchParams(params).toString();

export function Audit(): VNode {
  const [filters, setFilters] = useState<Filters>({});
  const [cursor, setCursor] = useState<string | null>(null);
  const page = useResource(
    () => api<AuditPage>('GET', tenantApi(`/audit?${query({ ...filters, ...(cursor ? { cursor } : {}) })}`)),
    [filters, cursor],
  );
  const next = page.data?.nextCursor ?? null;
  const exporting = useAction();
  // The filters are checked by the API: a bad one comes back named, next to its field.
  const apply = async (values: Values) => {
    const next = nest(values) as Filters;
    await api('GET', tenantApi(`/audit?${query({ ...next, limit: '1' })}`));
    setCursor(null);
    setFilters(next);
  };
  const exportAs = (format: 'csv' | 'json') =>
    void exporting.run(() => download(tenantApi(`/audit/export?${query({ ...filters, format })}`), `audit-${hostTenant().slug}.${format}`));

  return html`<h1>Audit trail</h1>
    <${Form}
      id="audit-filters"
      fields=${[
        { name: 'action', label: 'Action', hint: 'An action such as membership.updated, or a prefix such as membership.*' },
        { name: 'from', label: 'From', type: 'date' },
        { name: 'to', label: 'Before', type: 'date' },
      ]}
      submitLabel="Filter"
      onSubmit=${apply}
    />
    <p class="row">
      <button type="button" onClick=${() => exportAs('csv')}>Export CSV</button>
      <button type="button" onClick=${() => exportAs('json')}>Export JSON</button>
    </p>
    <${ErrorNote} error=${exporting.error} />
    <${LoadedTable}
      caption="Entries, newest first"
      resource=${page}
      rows=${(d: AuditPage) => d.entries}
      rowKey=${(e: Entry) => String(e.seq)}
      empty="No entries."
      columns=${[
        { label: 'When', cell: (e: Entry) => new Date(e.createdAt).toLocaleString() },
        { label: 'Action', cell: (e: Entry) => e.action },
        { label: 'Entity', cell: (e: Entry) => `${e.entityType}${e.entityId ? ` ${e.entityId}` : ''}` },
        { label: 'Actor', cell: (e: Entry) => [e.actor.kind, e.actor.role, e.actor.id].filter(Boolean).join(' ') },
      ]}
    />
    <p class="row">
      ${cursor ? html`<button type="button" onClick=${() => setCursor(null)}>Newest</button>` : null}
      ${next ? html`<button type="button" onClick=${() => setCursor(next)}>Older</button>` : null}
    </p>`;
}
