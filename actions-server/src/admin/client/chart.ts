// A line chart (uPlot on a canvas) with the same numbers in a table beside it:
// the table is what screen readers and tests read, the canvas what eyes see.
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import type { VNode } from 'preact';
import uPlot from 'uplot';

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  /** A horizontal line (a plan's limit), drawn dashed. */
  dashed?: boolean;
}

interface ChartProps {
  id: string;
  title: string;
  /** The x axis labels (e.g. months), one per value of each series. */
  labels: string[];
  series: Series[];
}

export function Chart({ id, title, labels, series }: ChartProps): VNode {
  const target = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = target.current;
    if (!el) return;
    const xs = labels.map((_, i) => i);
    const plot = new uPlot(
      {
        width: Math.max(320, Math.min(el.clientWidth || 640, 960)),
        height: 260,
        axes: [{ values: (_u, ticks) => ticks.map((t) => labels[t] ?? '') }, {}],
        scales: { x: { time: false } },
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, ...(s.dashed ? { dash: [6, 4] } : {}) }))],
      },
      [xs, ...series.map((s) => s.values)],
      el,
    );
    return () => plot.destroy();
  }, [labels, series]);
  return html`<figure class="chart" id=${id} aria-labelledby=${`${id}-title`}>
    <figcaption id=${`${id}-title`}>${title}</figcaption>
    <div ref=${target} class="chart-canvas" aria-hidden="true"></div>
    <table class="chart-data">
      <caption>
        ${title}: the numbers
      </caption>
      <thead>
        <tr>
          <th scope="col">Month</th>
          ${series.map((s) => html`<th scope="col">${s.label}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${labels.map(
          (label, i) =>
            html`<tr data-x=${label}>
              <th scope="row">${label}</th>
              ${series.map((s) => html`<td data-series=${s.label} data-value=${s.values[i] ?? ''}>${s.values[i] ?? '—'}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </figure>`;
}
