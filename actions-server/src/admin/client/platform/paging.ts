// Lists the API pages by keyset (`cursor` in, `nextCursor` out): filters
// applied through a Form (so a refused filter shows next to its field), and
// Previous / Next over the cursors already seen.
import { html } from 'htm/preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { VNode } from 'preact';
import type { Values } from '../form.ts';

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

export function useCursorPages<P extends CursorPage>(fetchPage: (filters: Values, cursor: string | null) => Promise<P>): CursorPages<P> {
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

export function Pager<P extends CursorPage>({ pages, label }: { pages: CursorPages<P>; label: string }): VNode {
  return html`<nav class="row pager" aria-label=${label}>
    <button type="button" onClick=${pages.previous} disabled=${pages.number <= 1}>Previous page</button>
    <span>Page ${pages.number}</span>
    <button type="button" onClick=${pages.next} disabled=${!pages.page?.nextCursor}>Next page</button>
  </nav>`;
}
