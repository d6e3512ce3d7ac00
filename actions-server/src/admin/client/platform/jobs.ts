// Failed background jobs: the last error of each, run one again or drop it.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import type { JobRow as Job } from '../../../jobs/admin.ts';
import { api } from '../api.ts';
import { ErrorNote, useAction, useResource } from '../resource.ts';
import { Table } from '../table.ts';
import { when } from './vocabulary.ts';

export function Jobs(): VNode {
  const { data, error, reload } = useResource(() => api<{ jobs: Job[] }>('GET', '/api/jobs?failed=true'), []);
  const action = useAction();
  const act = (path: string, method: string) => async () => {
    if (await action.run(() => api(method, path))) reload();
  };
  return html`<h1>Failed jobs</h1>
    <p>Jobs whose last attempt failed: retried with backoff until their attempts run out.</p>
    <${ErrorNote} error=${error ?? action.error} />
    ${
      data
        ? html`<${Table}
            caption="Failed jobs"
            rows=${data.jobs}
            rowKey=${(j: Job) => j.id}
            empty="No failed jobs."
            columns=${[
              { label: 'Job', cell: (j: Job) => `${j.task} #${j.id}` },
              { label: 'State', cell: (j: Job) => j.state },
              { label: 'Attempts', cell: (j: Job) => `${j.attempts} of ${j.maxAttempts}` },
              { label: 'Next run', cell: (j: Job) => when(j.runAt) },
              { label: 'Last error', cell: (j: Job) => j.lastError ?? '' },
              {
                label: 'Actions',
                cell: (j: Job) =>
                  html`<button type="button" onClick=${act(`/api/jobs/${j.id}/retry`, 'POST')} aria-label=${`Retry job ${j.id}`}>
                      Retry
                    </button>
                    <button type="button" class="danger" onClick=${act(`/api/jobs/${j.id}`, 'DELETE')} aria-label=${`Discard job ${j.id}`}>
                      Discard
                    </button>`,
              },
            ]}
          />`
        : null
    }`;
}
