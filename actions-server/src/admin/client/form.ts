// One form helper for every form: labelled fields, and the API's answer shown
// where it belongs — a message next to each field that `error.details.issues`
// names, anything else above the submit button.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { VNode } from 'preact';
import { ApiError } from './api.ts';

export type Values = Record<string, string | boolean>;

export interface Field {
  /** The request body's property: error issues naming it (or a path under it) show next to it. */
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password' | 'number' | 'url' | 'date' | 'datetime-local' | 'textarea' | 'select' | 'checkbox' | 'color';
  options?: { value: string; label: string }[];
  value?: string | boolean;
  required?: boolean;
  hint?: string;
}

interface FormProps {
  /** A stable prefix for element ids (several forms share a page). */
  id: string;
  fields: Field[];
  submitLabel: string;
  onSubmit: (values: Values) => Promise<void>;
  /** Called on every change (live previews). */
  onInput?: (values: Values) => void;
  /** Cleared after a successful submit. */
  reset?: boolean;
}

function initial(fields: Field[]): Values {
  return Object.fromEntries(fields.map((f) => [f.name, f.value ?? (f.type === 'checkbox' ? false : '')]));
}

/** Issue paths are dotted (`branding.primaryColor`): the deepest field whose name is a prefix owns it. */
function fieldFor(fields: Field[], path: string): string | undefined {
  const owners = fields.filter((f) => path === f.name || path.startsWith(`${f.name}.`));
  return owners.sort((a, b) => b.name.length - a.name.length)[0]?.name;
}

export function Form({ id, fields, submitLabel, onSubmit, onInput, reset }: FormProps): VNode {
  const [values, setValues] = useState<Values>(() => initial(fields));
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const change = (name: string, value: string | boolean) => {
    const next = { ...values, [name]: value };
    setValues(next);
    onInput?.(next);
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setFieldErrors({});
    setFormError(null);
    try {
      await onSubmit(values);
      if (reset) setValues(initial(fields));
    } catch (err) {
      const byField: Record<string, string> = {};
      const rest: string[] = [];
      if (err instanceof ApiError) {
        for (const issue of err.issues) {
          const owner = fieldFor(fields, issue.path);
          if (owner && !byField[owner]) byField[owner] = issue.message;
          else if (!owner) rest.push(issue.path ? `${issue.path}: ${issue.message}` : issue.message);
        }
      }
      setFieldErrors(byField);
      // The whole message when no field took it, so nothing the API said is lost.
      if (rest.length || Object.keys(byField).length === 0) setFormError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  const control = (f: Field, fid: string, describedBy: string | undefined) => {
    const common = {
      id: fid,
      name: f.name,
      required: f.required,
      'aria-describedby': describedBy,
      'aria-invalid': fieldErrors[f.name] ? 'true' : undefined,
    };
    const text = String(values[f.name] ?? '');
    switch (f.type) {
      case 'textarea':
        return html`<textarea
          ...${common}
          rows="6"
          value=${text}
          onInput=${(e: Event) => change(f.name, (e.target as HTMLTextAreaElement).value)}
        />`;
      case 'select':
        return html`<select ...${common} value=${text} onChange=${(e: Event) => change(f.name, (e.target as HTMLSelectElement).value)}>
          ${(f.options ?? []).map((o) => html`<option value=${o.value}>${o.label}</option>`)}
        </select>`;
      case 'checkbox':
        return html`<input
          ...${common}
          type="checkbox"
          checked=${values[f.name] === true}
          onChange=${(e: Event) => change(f.name, (e.target as HTMLInputElement).checked)}
        />`;
      default:
        return html`<input
          ...${common}
          type=${f.type ?? 'text'}
          value=${text}
          onInput=${(e: Event) => change(f.name, (e.target as HTMLInputElement).value)}
        />`;
    }
  };

  return html`<form class="form" id=${id} onSubmit=${submit} novalidate>
    ${fields.map((f) => {
      const fid = `${id}-${f.name}`;
      const error = fieldErrors[f.name];
      const describedBy = [f.hint ? `${fid}-hint` : '', error ? `${fid}-error` : ''].filter(Boolean).join(' ') || undefined;
      return html`<div class=${`field${f.type === 'checkbox' ? ' field-check' : ''}`}>
        <label for=${fid}>${f.label}</label>
        ${control(f, fid, describedBy)} ${f.hint ? html`<p class="hint" id=${`${fid}-hint`}>${f.hint}</p>` : null}
        ${error ? html`<p class="field-error" id=${`${fid}-error`} data-field=${f.name}>${error}</p>` : null}
      </div>`;
    })}
    ${formError ? html`<p class="form-error" role="alert">${formError}</p>` : null}
    <button type="submit" disabled=${busy}>${submitLabel}</button>
  </form>`;
}

/** Dotted field names (`branding.primaryColor`) as the nested body the API takes; empty text as `empty`. */
export function nest(values: Values, empty: null | undefined = undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(values)) {
    const value = raw === '' ? empty : raw;
    if (value === undefined) continue;
    const parts = name.split('.');
    let at = out;
    for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>;
    at[parts.at(-1)!] = value;
  }
  return out;
}

/** A select whose options are the API's own values, shown as they are unless a label is given. */
export function choice(name: string, label: string, values: string[], value?: string, labels: Record<string, string> = {}): Field {
  return { name, label, type: 'select', value: value ?? values[0], options: values.map((v) => ({ value: v, label: labels[v] ?? v })) };
}
