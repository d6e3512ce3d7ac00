// API keys: create (the key is shown once), list, revoke.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { choice, Form, nest, type Values } from '../form.ts';
import { tenantApi } from '../host.ts';
import { ErrorNote, ShownOnce, useAction, useResource } from '../resource.ts';
import { LoadedTable } from '../table.ts';

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  role: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const when = (iso: string | null, none: string) => (iso ? new Date(iso).toLocaleString() : none);

export function ApiKeys(): VNode {
  const keys = useResource(() => api<{ apiKeys: ApiKey[] }>('GET', tenantApi('/api-keys')), []);
  const action = useAction();
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const create = async (values: Values) => {
    const body = nest(values);
    // A date-time field gives local time without a zone: the API takes an instant.
    if (typeof body['expiresAt'] === 'string') body['expiresAt'] = new Date(body['expiresAt']).toISOString();
    const answer = await api<{ apiKey: ApiKey; key: string }>('POST', tenantApi('/api-keys'), body);
    setCreated({ name: answer.apiKey.name, key: answer.key });
    keys.reload();
  };
  const revoke = async (k: ApiKey) => {
    if (await action.run(() => api('DELETE', tenantApi(`/api-keys/${k.id}`)))) keys.reload();
  };
  return html`<h1>API keys</h1>
    <${ErrorNote} error=${action.error} />
    <${LoadedTable}
      caption="API keys"
      resource=${keys}
      rows=${(d: { apiKeys: ApiKey[] }) => d.apiKeys}
      rowKey=${(k: ApiKey) => k.id}
      empty="No API keys."
      columns=${[
        { label: 'Name', cell: (k: ApiKey) => k.name },
        { label: 'Prefix', cell: (k: ApiKey) => k.prefix },
        { label: 'Role', cell: (k: ApiKey) => k.role },
        { label: 'Expires', cell: (k: ApiKey) => when(k.expiresAt, 'never') },
        { label: 'Last used', cell: (k: ApiKey) => when(k.lastUsedAt, 'never') },
        {
          label: 'State',
          cell: (k: ApiKey) =>
            k.revokedAt
              ? `revoked ${when(k.revokedAt, '')}`
              : html`<button type="button" class="danger" aria-label=${`Revoke ${k.name}`} onClick=${() => void revoke(k)}>Revoke</button>`,
        },
      ]}
    />
    <h2>Create a key</h2>
    <${Form}
      id="api-key"
      reset
      fields=${[
        { name: 'name', label: 'Name', required: true },
        choice('role', 'Role', ['member', 'tenant_admin'], 'member', { tenant_admin: 'tenant admin' }),
        { name: 'expiresAt', label: 'Expires', type: 'datetime-local', hint: 'Leave empty for a key that does not expire' },
      ]}
      submitLabel="Create key"
      onSubmit=${create}
    />
    ${created ? html`<${ShownOnce} intro=${`The key ${created.name}, shown only now: copy it somewhere safe.`} secret=${created.key} testId="new-api-key" />` : null}`;
}
