// A tenant's usage over the last six months (one API call per month), with the
// plan's user limit as a dashed line when it has one.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import type { TenantUsage as Usage } from '../../../usage/service.ts';
import { api } from '../api.ts';
import { Chart } from '../chart.ts';
import { ErrorNote, useResource } from '../resource.ts';

const MONTHS = 6;

/** The last `n` months as YYYY-MM, oldest first, in UTC like the API's periods. */
export function lastMonths(n: number, now = new Date()): string[] {
  return Array.from({ length: n }, (_, i) => {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (n - 1 - i), 1));
    return d.toISOString().slice(0, 7);
  });
}

export function UsageChart({ tenantId, limits }: { tenantId: string; limits: Record<string, number> | undefined }): VNode {
  const { data, error } = useResource(
    () =>
      Promise.all(
        lastMonths(MONTHS).map(
          async (period) => (await api<{ usage: Usage }>('GET', `/api/tenants/${tenantId}/usage?period=${period}`)).usage,
        ),
      ),
    [tenantId],
  );
  const userLimit = limits?.['max_users'];
  return html`<section aria-labelledby="usage-title">
    <h2 id="usage-title">Usage</h2>
    <${ErrorNote} error=${error} />
    ${
      data
        ? html`<${Chart}
            id="usage"
            title="Usage by month"
            labels=${data.map((u) => u.period)}
            series=${[
              { label: 'Users', values: data.map((u) => u.usersTotal), color: '#1f5fbf' },
              { label: 'Messages', values: data.map((u) => u.messagesTotal), color: '#2e7d32' },
              { label: 'API calls', values: data.map((u) => u.apiCallsTotal), color: '#8e44ad' },
              ...(userLimit !== undefined && userLimit >= 0
                ? [{ label: 'User limit', values: data.map(() => userLimit), color: '#b00020', dashed: true }]
                : []),
            ]}
          />`
        : null
    }
  </section>`;
}
