// Usage against the plan's limits, month by month: one chart per limited
// resource, the limit drawn as a dashed line where the plan has one.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useMemo } from 'preact/hooks';
import { api } from '../api.ts';
import { Chart, type Series } from '../chart.ts';
import { tenantApi } from '../host.ts';
import { ErrorNote, useResource } from '../resource.ts';

interface Line {
  resource: string;
  usage: number;
  limit: number | null;
}

interface History {
  plan: string;
  months: { period: string; limits: Line[] }[];
}

const TITLES: Record<string, string> = {
  users: 'Members',
  channels: 'Channels',
  storage_bytes: 'Storage (bytes)',
  api_calls_month: 'API calls',
};

function charts(history: History): { resource: string; series: Series[] }[] {
  const resources = history.months[0]?.limits.map((l) => l.resource) ?? [];
  return resources.map((resource) => {
    const lines = history.months.map((m) => m.limits.find((l) => l.resource === resource));
    const series: Series[] = [{ label: 'Used', values: lines.map((l) => l?.usage ?? null), color: '#0b5cad' }];
    if (lines.some((l) => l?.limit !== null && l?.limit !== undefined)) {
      series.push({ label: 'Limit', values: lines.map((l) => l?.limit ?? null), color: '#b3261e', dashed: true });
    }
    return { resource, series };
  });
}

export function Usage(): VNode {
  const { data, error } = useResource(() => api<{ history: History }>('GET', tenantApi('/usage/history?months=12')), []);
  const shown = useMemo(() => (data ? { labels: data.history.months.map((m) => m.period), charts: charts(data.history) } : null), [data]);
  return html`<h1>Usage</h1>
    <${ErrorNote} error=${error} />
    ${
      data && shown
        ? html`<p>Plan: ${data.history.plan}. The last 12 months, each against this plan's limits.</p>
            ${shown.charts.map(
              (c) =>
                html`<${Chart}
                  key=${c.resource}
                  id=${`usage-${c.resource}`}
                  title=${TITLES[c.resource] ?? c.resource}
                  labels=${shown.labels}
                  series=${c.series}
                />`,
            )}`
        : null
    }`;
}
