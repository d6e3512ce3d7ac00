// Lists the API pages by keyset (`cursor` in, `nextCursor` out): filters
// applied through a Form (so a refused filter shows next to its field), and
// Previous / Next over the cursors already seen.
import { html } from 'htm/preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { VNode } from 'preact';
import { api } from '../api.ts';
import type { Values } from '../form.ts';
import { ErrorNote } from '../resource.ts';
import { Table, type Column } from '../table.ts';

export interface CursorPage {
  nextCursor: string | null;
}

/** A query string from a form's values and a cursor; empty values are left out. */
export function queryOf(values: Values, cursor: string | null, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams(extra);
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string' && v.trim() !== '') params.set(k, v.trim());
  if (cursor) params.set('cursor', cursor);
  const text = params.toString();
  return text ? `?${text}` : '';
}

export interface CursorPages<P> {
  page: P | undefined;
  error: Error | undefined;
  /** The Form's submit: throws the API's refusal back to the form. */
  apply: (filters: Values) => Promise<void>;
  next: () => void;
  previous: () => void;
  reload: () => void;
  number: number;
}

/** Pages of `GET path`, `limit` rows each, with the filters last applied. */
export function useCursorPages<P extends CursorPage>(path: string, limit: number): CursorPages<P> {
  const fetchPage = useCallback(
    (filters: Values, cursor: string | null) => api<P>('GET', `${path}${queryOf(filters, cursor, { limit: String(limit) })}`),
    [path, limit],
  );
  const [filters, setFilters] = useState<Values>({});
  // The cursor of every page seen so far, the first page's being null.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<P | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const show = useCallback(
    async (f: Values, cs: (string | null)[]) => {
      const p = await fetchPage(f, cs.at(-1) ?? null);
      setFilters(f);
      setCursors(cs);
      setPage(p);
      setError(undefined);
    },
    [fetchPage],
  );
  const settle = (work: Promise<void>) => void work.catch((e: unknown) => setError(e instanceof Error ? e : new Error(String(e))));
  useEffect(() => settle(show({}, [null])), [show]);
  return {
    page,
    error,
    apply: (f) => show(f, [null]),
    next: () => page?.nextCursor && settle(show(filters, [...cursors, page.nextCursor])),
    previous: () => cursors.length > 1 && settle(show(filters, cursors.slice(0, -1))),
    reload: () => settle(show(filters, cursors)),
    number: cursors.length,
  };
}

interface PagedTableProps<P extends CursorPage, R> {
  pages: CursorPages<P>;
  rowsOf: (page: P) => R[];
  caption: string;
  columns: Column<R>[];
  rowKey: (row: R) => string;
  empty: string;
}

/** The current page as a table, the refusal if any, and Previous / Next. */
export function PagedTable<P extends CursorPage, R>({ pages, rowsOf, caption, columns, rowKey, empty }: PagedTableProps<P, R>): VNode {
  return html`<${ErrorNote} error=${pages.error} /> ${
      pages.page
        ? html`<${Table} caption=${caption} rows=${rowsOf(pages.page)} rowKey=${rowKey} empty=${empty} columns=${columns} />
            <nav class="row pager" aria-label=${`${caption}: pages`}>
              <button type="button" onClick=${pages.previous} disabled=${pages.number <= 1}>Previous page</button>
              <span>Page ${pages.number}</span>
              <button type="button" onClick=${pages.next} disabled=${!pages.page.nextCursor}>Next page</button>
            </nav>`
        : null
    }`;
}
