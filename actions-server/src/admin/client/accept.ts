// Accepting an invitation on this tenant's host: a new account (name and
// password) or an existing one (its password); the answer signs the person in.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { api } from './api.ts';
import { Form, nest, type Values } from './form.ts';
import { hostTenant } from './host.ts';
import { BASE, navigate, useLocation } from './router.ts';
import { saveSession } from './session.ts';

interface AcceptAnswer {
  tenantId: string;
  role: string;
  token: string;
  refreshToken: string;
}

export function AcceptInvitation(): VNode {
  const token = useLocation().searchParams.get('token') ?? '';
  const submit = async (values: Values) => {
    const answer = await api<AcceptAnswer>('POST', '/api/invitations/accept', { token, ...nest(values) });
    saveSession({ token: answer.token, refreshToken: answer.refreshToken, role: answer.role, tenantId: answer.tenantId, email: '' });
    navigate(`${BASE}/`, { replace: true });
  };
  return html`<main class="sign-in">
    <h1>Join ${hostTenant().slug}</h1>
    <p>New here: choose your name and a password. Already have an account: your password is enough.</p>
    <${Form}
      id="accept"
      fields=${[
        { name: 'name', label: 'Your name', hint: 'Only for a new account' },
        { name: 'password', label: 'Password', type: 'password', required: true },
      ]}
      submitLabel="Accept the invitation"
      onSubmit=${submit}
    />
  </main>`;
}
