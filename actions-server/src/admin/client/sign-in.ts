// Sign-in on this host: a tenant's members on a tenant host, platform
// administrators on the platform host; then back to the page that sent here.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { api } from './api.ts';
import { Form } from './form.ts';
import { BASE, navigate, useLocation } from './router.ts';
import { saveSession } from './session.ts';

interface LoginAnswer {
  token: string;
  refreshToken: string;
  role: string;
  tenant: { id: string; slug: string } | null;
}

/** Only a path under /admin may be returned to (never another origin). */
function safeNext(raw: string | null): string {
  return raw && raw.startsWith(`${BASE}/`) && !raw.startsWith('//') ? raw : `${BASE}/`;
}

export function SignIn(): VNode {
  const next = safeNext(useLocation().searchParams.get('next'));
  const submit = async (values: Record<string, string | boolean>) => {
    const email = String(values['email']);
    const answer = await api<LoginAnswer>('POST', '/api/auth/login', { email, password: values['password'] });
    saveSession({ token: answer.token, refreshToken: answer.refreshToken, role: answer.role, tenantId: answer.tenant?.id ?? null, email });
    navigate(next, { replace: true });
  };
  return html`<main class="sign-in">
    <h1>Sign in</h1>
    <${Form}
      id="sign-in"
      fields=${[
        { name: 'email', label: 'Email', type: 'email', required: true },
        { name: 'password', label: 'Password', type: 'password', required: true },
      ]}
      submitLabel="Sign in"
      onSubmit=${submit}
    />
  </main>`;
}
