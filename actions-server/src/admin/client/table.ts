// A data table: a caption, column headers, and each cell rendered as text
// (or a node the page builds) — never as HTML from the data.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { ErrorNote, type Resource } from './resource.ts';

export interface Column<R> {
  label: string;
  cell: (row: R) => VNode | string | number | null;
}

interface TableProps<R> {
  caption: string;
  columns: Column<R>[];
  rows: R[];
  rowKey: (row: R) => string;
  empty?: string;
}

export function Table<R>({ caption, columns, rows, rowKey, empty }: TableProps<R>): VNode {
  return html`<table>
    <caption>
      ${caption}
    </caption>
    <thead>
      <tr>
        ${columns.map((c) => html`<th scope="col">${c.label}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${
        rows.length === 0
          ? html`<tr>
              <td colspan=${columns.length}>${empty ?? 'Nothing yet.'}</td>
            </tr>`
          : rows.map(
              (r) =>
                html`<tr key=${rowKey(r)} data-key=${rowKey(r)}>
                  ${columns.map((c) => html`<td>${c.cell(r)}</td>`)}
                </tr>`,
            )
      }
    </tbody>
  </table>`;
}

interface LoadedTableProps<T, R> extends Omit<TableProps<R>, 'rows'> {
  resource: Resource<T>;
  rows: (data: T) => R[];
}

/** A table of what a resource loaded: its refusal while there is one, nothing while loading. */
export function LoadedTable<T, R>({ resource, rows, ...table }: LoadedTableProps<T, R>): VNode {
  return html`<${ErrorNote} error=${resource.error} />
    ${resource.data ? html`<${Table} ...${table} rows=${rows(resource.data)} />` : null}`;
}
