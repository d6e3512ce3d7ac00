// Members and invitations: invite, resend, revoke; change a role, remove,
// transfer ownership. What a person may do is the API's call: a refusal shows.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import { choice, Form, type Values } from '../form.ts';
import { tenantApi } from '../host.ts';
import { ErrorNote, ShownOnce, useAction, useResource } from '../resource.ts';
import { LoadedTable } from '../table.ts';
import type { ViewProps } from '../views.ts';

interface Member {
  identityId: string;
  email: string;
  name: string | null;
  role: 'owner' | 'admin' | 'member';
  joinedAt: string;
}

interface Invitation {
  id: string;
  email: string;
  role: string;
  expiresAt: string;
}

const ROLES = ['owner', 'admin', 'member'];

export function Members({ session }: ViewProps): VNode {
  const members = useResource(() => api<{ members: Member[] }>('GET', tenantApi('/members?limit=100')), []);
  const invitations = useResource(() => api<{ invitations: Invitation[] }>('GET', tenantApi('/invitations')), []);
  const action = useAction();
  const act = async (call: () => Promise<unknown>, after: () => void) => {
    if (await action.run(call)) after();
  };
  // The token is shown once: the mail carries it too, the link here is for handing over another way.
  const [sent, setSent] = useState<{ email: string; link: string } | null>(null);
  const invite = async (values: Values) => {
    const answer = await api<{ invitation: Invitation; token: string }>('POST', tenantApi('/invitations'), {
      email: values['email'],
      role: values['role'],
    });
    setSent({
      email: answer.invitation.email,
      link: `${location.origin}/admin/accept-invitation?token=${encodeURIComponent(answer.token)}`,
    });
    invitations.reload();
  };
  const me = (m: Member) => m.email === session.email;

  return html`<h1>Members</h1>
    <${ErrorNote} error=${action.error} />
    <${LoadedTable}
      caption="Members"
      resource=${members}
      rows=${(d: { members: Member[] }) => d.members}
      rowKey=${(m: Member) => m.identityId}
      columns=${[
        { label: 'Email', cell: (m: Member) => m.email },
        { label: 'Name', cell: (m: Member) => m.name ?? '' },
        {
          label: 'Role',
          cell: (m: Member) =>
            html`<select
              aria-label=${`Role of ${m.email}`}
              value=${m.role}
              disabled=${me(m)}
              onChange=${(e: Event) =>
                void act(
                  () => api('PATCH', tenantApi(`/members/${m.identityId}`), { role: (e.target as HTMLSelectElement).value }),
                  members.reload,
                )}
            >
              ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
            </select>`,
        },
        {
          label: 'Actions',
          cell: (m: Member) =>
            me(m)
              ? null
              : html`<button
                    type="button"
                    class="danger"
                    aria-label=${`Remove ${m.email}`}
                    onClick=${() => void act(() => api('DELETE', tenantApi(`/members/${m.identityId}`)), members.reload)}
                  >
                    Remove
                  </button>
                  <button
                    type="button"
                    aria-label=${`Make ${m.email} the owner`}
                    onClick=${() => void act(() => api('POST', tenantApi('/transfer-ownership'), { identityId: m.identityId }), members.reload)}
                  >
                    Transfer ownership
                  </button>`,
        },
      ]}
    />
    <h2>Invitations</h2>
    <${LoadedTable}
      caption="Open invitations"
      resource=${invitations}
      rows=${(d: { invitations: Invitation[] }) => d.invitations}
      rowKey=${(i: Invitation) => i.id}
      empty="No open invitations."
      columns=${[
        { label: 'Email', cell: (i: Invitation) => i.email },
        { label: 'Role', cell: (i: Invitation) => i.role },
        { label: 'Expires', cell: (i: Invitation) => new Date(i.expiresAt).toLocaleString() },
        {
          label: 'Actions',
          cell: (i: Invitation) =>
            html`<button
                type="button"
                aria-label=${`Resend the invitation of ${i.email}`}
                onClick=${() => void act(() => api('POST', tenantApi(`/invitations/${i.id}/resend`)), invitations.reload)}
              >
                Resend
              </button>
              <button
                type="button"
                class="danger"
                aria-label=${`Revoke the invitation of ${i.email}`}
                onClick=${() => void act(() => api('DELETE', tenantApi(`/invitations/${i.id}`)), invitations.reload)}
              >
                Revoke
              </button>`,
        },
      ]}
    />
    <h2>Invite someone</h2>
    <${Form}
      id="invite"
      reset
      fields=${[{ name: 'email', label: 'Email address', type: 'email', required: true }, choice('role', 'Role', ['member', 'admin'])]}
      submitLabel="Send invitation"
      onSubmit=${invite}
    />
    ${sent ? html`<${ShownOnce} intro=${`Invitation sent to ${sent.email}. Its link, shown only now:`} secret=${sent.link} testId="invitation-link" />` : null}`;
}
