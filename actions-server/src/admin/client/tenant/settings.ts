// Settings and branding, with a live preview: the server sanitises the CSS
// (the same sanitiser that stores it) and the result is applied as a
// constructable stylesheet inside a shadow root, which the page's CSP allows
// and which keeps the tenant's rules off the portal itself.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api.ts';
import { Form, nest, type Field, type Values } from '../form.ts';
import { tenantApi } from '../host.ts';
import { ErrorNote, useResource } from '../resource.ts';

interface Tenant {
  name: string;
  branding: Record<string, unknown>;
}

const BRANDING: Field[] = [
  { name: 'branding.appName', label: 'App name' },
  { name: 'branding.primaryColor', label: 'Primary colour', hint: 'A hex colour such as #1a2b3c' },
  { name: 'branding.backgroundColor', label: 'Background colour' },
  { name: 'branding.textColor', label: 'Text colour' },
  { name: 'branding.fontFamily', label: 'Font family', hint: 'Such as "Inter", sans-serif' },
  { name: 'branding.supportEmail', label: 'Support email', type: 'email' },
  { name: 'branding.customCss', label: 'Custom CSS', type: 'textarea', hint: 'Sanitised: what is not allowed is removed' },
];

/** The sample the preview styles: plain elements, so the tenant's own rules have something to apply to. */
const SAMPLE_CSS = `:host { display: block; border: 1px solid #d0d7de; padding: 1rem; background: var(--background, #fff); color: var(--text, #1b1f24); font-family: var(--font, inherit); }
button { background: var(--primary, #0b5cad); color: #fff; border: 0; padding: .4rem .8rem; }`;

const TOKENS: Record<string, string> = {
  primaryColor: '--primary',
  backgroundColor: '--background',
  textColor: '--text',
  fontFamily: '--font',
};

function Preview({ branding }: { branding: Record<string, unknown> }): VNode {
  const host = useRef<HTMLDivElement>(null);
  const shadow = useRef<{ root: ShadowRoot; title: HTMLElement; sheet: CSSStyleSheet } | null>(null);
  useEffect(() => {
    const el = host.current;
    if (!el || shadow.current) return;
    const root = el.attachShadow({ mode: 'open' });
    const title = document.createElement('h1');
    const text = document.createElement('p');
    text.textContent = 'Body text as your members see it.';
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = 'A button';
    root.append(title, text, button);
    const sheet = new CSSStyleSheet();
    root.adoptedStyleSheets = [sheet];
    shadow.current = { root, title, sheet };
  }, []);
  useEffect(() => {
    const s = shadow.current;
    const el = host.current;
    if (!s || !el) return;
    s.title.textContent = typeof branding['appName'] === 'string' ? branding['appName'] : 'Your app';
    // Values the server validated; set through CSSOM, never as markup.
    for (const [field, prop] of Object.entries(TOKENS)) {
      const value = branding[field];
      if (typeof value === 'string') el.style.setProperty(prop, value);
      else el.style.removeProperty(prop);
    }
    const css = typeof branding['customCss'] === 'string' ? branding['customCss'] : '';
    s.sheet.replaceSync(`${SAMPLE_CSS}\n${css}`);
  }, [branding]);
  return html`<section aria-labelledby="preview-title">
    <h2 id="preview-title">Preview</h2>
    <div ref=${host} class="preview" data-testid="branding-preview"></div>
  </section>`;
}

export function Settings(): VNode {
  const tenant = useResource(() => api<{ tenant: Tenant }>('GET', tenantApi()), []);
  const [preview, setPreview] = useState<Record<string, unknown>>({});
  const [previewError, setPreviewError] = useState<Error | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout>>();
  const requested = useRef(0);

  const refresh = (values: Values) => {
    clearTimeout(timer.current);
    timer.current = setTimeout(() => {
      const n = ++requested.current;
      const body = nest(values);
      api<{ branding: Record<string, unknown> }>('POST', tenantApi('/branding/preview'), { branding: body['branding'] ?? {} }).then(
        (answer) => n === requested.current && (setPreview(answer.branding), setPreviewError(null)),
        (err: unknown) => n === requested.current && setPreviewError(err instanceof Error ? err : new ApiError(0, 'PREVIEW', String(err))),
      );
    }, 250);
  };
  useEffect(() => {
    if (tenant.data) setPreview(tenant.data.tenant.branding);
  }, [tenant.data]);

  const save = async (values: Values) => {
    const body = nest(values, null);
    if (body['name'] === null) delete body['name'];
    const answer = await api<{ tenant: Tenant; brandingWarnings?: string[] }>('PUT', tenantApi(), body);
    setSaved(answer.brandingWarnings?.length ? `Saved. Removed from the CSS: ${answer.brandingWarnings.join('; ')}` : 'Saved.');
    setPreview(answer.tenant.branding);
  };

  const t = tenant.data?.tenant;
  return html`<h1>Settings</h1>
    <${ErrorNote} error=${tenant.error} />
    ${
      t
        ? html`<${Form}
              id="settings"
              fields=${[
                { name: 'name', label: 'Name', value: t.name, required: true },
                ...BRANDING.map((f) => {
                  const stored = t.branding[f.name.slice('branding.'.length)];
                  return { ...f, value: typeof stored === 'string' ? stored : '' };
                }),
              ]}
              submitLabel="Save"
              onSubmit=${save}
              onInput=${refresh}
            />
            ${saved ? html`<p role="status">${saved}</p>` : null}
            <${ErrorNote} error=${previewError} />
            <${Preview} branding=${preview} />`
        : null
    }`;
}
