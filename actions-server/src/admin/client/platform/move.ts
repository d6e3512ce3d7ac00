// A tenant's tier and its moves: start one (to another tier, or a database
// tenant to another server) and follow its steps live until done.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { VNode } from 'preact';
import { api, ApiError } from '../api.ts';
import { Form, type Values } from '../form.ts';
import { ErrorNote } from '../resource.ts';
import type { MoveView } from '../../../tenants/move/records.ts';
import type { TenantView } from '../../../tenants/records.ts';
import { choices, TIERS } from './vocabulary.ts';

/** The steps in order (tenants/move/records.ts); `state` names the next one to run. */
const STEPS = ['capturing', 'building', 'copying', 'syncing', 'freezing', 'switching', 'exposing', 'cleaning'];
const FINISHED = new Set(['done', 'aborted']);
const POLL_MS = 500;

function stepState(step: string, state: string): 'done' | 'current' | 'waiting' {
  if (state === 'done') return 'done';
  const at = STEPS.indexOf(state);
  const i = STEPS.indexOf(step);
  return i < at ? 'done' : i === at && state !== 'aborted' ? 'current' : 'waiting';
}

const STEP_WORDS = { done: 'done', current: 'in progress', waiting: 'waiting' };

async function latestMove(tenantId: string): Promise<MoveView | null> {
  try {
    return (await api<{ move: MoveView }>('GET', `/api/tenants/${tenantId}/move`)).move;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

function Steps({ move }: { move: MoveView }): VNode {
  return html`<p role="status">
      Move from ${move.from} to ${move.to}: <strong data-move-state>${move.state}</strong>${move.error ? ` (${move.error})` : ''}
    </p>
    <ol class="steps">
      ${STEPS.map((s) => {
        const st = stepState(s, move.state);
        return html`<li data-step=${s} data-state=${st}>${s}: ${STEP_WORDS[st]}</li>`;
      })}
    </ol>`;
}

export function Move({ tenant, moved }: { tenant: TenantView; moved: () => void }): VNode {
  const [move, setMove] = useState<MoveView | null | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const running = move ? !FINISHED.has(move.state) : false;

  // The latest move at first, then every half second while one runs; the tenant is read again when it ends.
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const m = await latestMove(tenant.id);
        if (!live) return;
        setMove(m);
        if (m && !FINISHED.has(m.state)) timer = setTimeout(() => void poll(), POLL_MS);
        else if (m && running) moved();
      } catch (e) {
        if (live) setError(e instanceof Error ? e : new Error(String(e)));
      }
    };
    void poll();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [tenant.id, running]);

  const start = async (values: Values) => {
    const databaseUrlEnv = String(values['databaseUrlEnv'] ?? '').trim();
    const answer = await api<{ move: MoveView }>('POST', `/api/tenants/${tenant.id}/move`, {
      to: values['to'],
      ...(databaseUrlEnv ? { databaseUrlEnv } : {}),
    });
    setMove(answer.move);
  };

  return html`<section aria-labelledby="tier-title">
    <h2 id="tier-title">Tier</h2>
    <p>
      Placed in the <strong>${tenant.isolation}</strong> tier. A move copies the tenant while it keeps serving; writes pause for a moment at
      the end.
    </p>
    <${ErrorNote} error=${error} />
    ${move ? html`<${Steps} move=${move} />` : null}
    ${
      running
        ? null
        : html`<${Form}
            id="move"
            fields=${[
              {
                name: 'to',
                label: 'Move to tier',
                type: 'select',
                options: choices(TIERS.filter((t) => t !== tenant.isolation || t === 'database')),
                value: TIERS.find((t) => t !== tenant.isolation),
              },
              {
                name: 'databaseUrlEnv',
                label: 'Database server setting',
                hint: 'Database tier only: the TENANT_DATABASE_URL_<NAME> setting of another server; empty for this one.',
              },
            ]}
            submitLabel="Move tenant"
            onSubmit=${start}
          />`
    }
  </section>`;
}
