// Loading what a view shows: the answer, the API's refusal as a message, and a
// reload for after a change.
import { html } from 'htm/preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { VNode } from 'preact';

export interface Resource<T> {
  data: T | undefined;
  error: Error | undefined;
  reload: () => void;
}

export function useResource<T>(load: () => Promise<T>, deps: unknown[]): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (d) => live && (setData(d), setError(undefined)),
      (e: unknown) => live && setError(e instanceof Error ? e : new Error(String(e))),
    );
    return () => void (live = false);
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, reload };
}

/** An API refusal or failure, announced to screen readers. */
export function ErrorNote({ error }: { error: Error | undefined | null }): VNode | null {
  return error ? html`<p class="form-error" role="alert">${error.message}</p>` : null;
}

/** Runs an action (a button's), showing its refusal; resolves false when refused. */
export function useAction(): { error: Error | undefined; run: (action: () => Promise<unknown>) => Promise<boolean> } {
  const [error, setError] = useState<Error | undefined>(undefined);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await action();
      return true;
    } catch (e) {
      setError(e instanceof Error ? e : new Error(String(e)));
      return false;
    }
  }, []);
  return { error, run };
}

/** A secret the API shows only once (a new key, an invitation link), announced politely. */
export function ShownOnce({ intro, secret, testId }: { intro: string; secret: string; testId: string }): VNode {
  return html`<div role="status">
    <p>${intro}</p>
    <p class="secret" data-testid=${testId}>${secret}</p>
  </div>`;
}
