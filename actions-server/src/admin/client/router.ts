// Client-side routes under /admin: the server answers every /admin path with
// the same page, and the path picks the view. Links are plain <a href> that
// the click handler turns into history navigation.
import { useEffect, useState } from 'preact/hooks';

export const BASE = '/admin';

type Listener = () => void;
const listeners = new Set<Listener>();

function notify(): void {
  for (const l of listeners) l();
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  notify();
}

/** The current location (path and query), re-rendering on every navigation. */
export function useLocation(): URL {
  const [, setTick] = useState(0);
  const href = location.href;
  useEffect(() => {
    const listener = () => setTick((n) => n + 1);
    listeners.add(listener);
    // A child's effect may have navigated before this one subscribed (children's effects run first).
    if (location.href !== href) listener();
    return () => void listeners.delete(listener);
  }, [href]);
  return new URL(href);
}

/** Same-origin clicks on links under /admin become history navigation. */
export function interceptLinks(root: HTMLElement): void {
  root.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const target = event.target instanceof Element ? event.target.closest('a') : null;
    if (!target || target.target || target.hasAttribute('download')) return;
    const url = new URL(target.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
    event.preventDefault();
    navigate(url.pathname + url.search);
  });
  addEventListener('popstate', notify);
}

export interface Match {
  params: Record<string, string>;
}

/** `/admin/tenants/:id` against a path: the named segments, or null. */
export function matchPath(pattern: string, pathname: string): Match | null {
  const want = pattern.split('/').filter(Boolean);
  const got = pathname.split('/').filter(Boolean);
  if (want.length !== got.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = decodeURIComponent(got[i]!);
    if (w.startsWith(':')) params[w.slice(1)] = g;
    else if (w !== g) return null;
  }
  return { params };
}
