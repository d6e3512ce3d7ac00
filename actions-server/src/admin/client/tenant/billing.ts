// Billing: the plan and subscription, change plan (checkout when there is no
// subscription yet), cancel or resume, and Stripe's customer portal.
import { html } from 'htm/preact';
import type { VNode } from 'preact';
import { api } from '../api.ts';
import { choice, Form, type Values } from '../form.ts';
import { ErrorNote, useAction, useResource } from '../resource.ts';

interface Billing {
  plan: string;
  interval: string | null;
  subscriptionStatus: string | null;
  currentPeriodEnd: string | null;
  cancelAtPeriodEnd: boolean;
  trialEndsAt: string | null;
  pastDue: boolean;
  hasBillingAccount: boolean;
  enabled: boolean;
  notices: { message?: string; kind?: string }[];
}

export function BillingView(): VNode {
  const billing = useResource(() => api<{ billing: Billing }>('GET', '/api/billing'), []);
  const action = useAction();
  const b = billing.data?.billing;
  const changePlan = async (values: Values) => {
    const choice = { plan: values['plan'], interval: values['interval'] };
    if (b?.subscriptionStatus) {
      await api('POST', '/api/billing/change-plan', choice);
      billing.reload();
    } else {
      // No subscription yet: Stripe Checkout takes the payment details, then comes back here.
      const here = location.href;
      const { url } = await api<{ url: string }>('POST', '/api/billing/checkout', { ...choice, successUrl: here, cancelUrl: here });
      location.assign(url);
    }
  };
  const post = async (path: string, body?: unknown) => {
    if (await action.run(() => api('POST', path, body))) billing.reload();
  };
  const portal = () =>
    void action.run(async () => {
      const { url } = await api<{ url: string }>('POST', '/api/billing/portal', { returnUrl: location.href });
      location.assign(url);
    });

  return html`<h1>Billing</h1>
    <${ErrorNote} error=${action.error ?? billing.error} />
    ${
      b
        ? html`<dl class="facts">
              <dt>Plan</dt>
              <dd>${b.plan}${b.interval ? ` (${b.interval}ly)` : ''}</dd>
              <dt>Subscription</dt>
              <dd>${b.subscriptionStatus ?? 'none'}${b.pastDue ? ', payment past due' : ''}</dd>
              <dt>Renews</dt>
              <dd>
                ${b.currentPeriodEnd ? `${b.cancelAtPeriodEnd ? 'ends' : 'renews'} ${new Date(b.currentPeriodEnd).toLocaleDateString()}` : '—'}
              </dd>
              <dt>Trial ends</dt>
              <dd>${b.trialEndsAt ? new Date(b.trialEndsAt).toLocaleDateString() : '—'}</dd>
            </dl>
            ${b.enabled ? null : html`<p>Payments are not set up on this server: plan changes are refused.</p>`}
            <h2>Change plan</h2>
            <${Form}
              id="change-plan"
              fields=${[
                choice('plan', 'Plan', ['free', 'pro', 'enterprise'], b.plan),
                choice('interval', 'Billed', ['month', 'year'], b.interval ?? 'month', { month: 'monthly', year: 'yearly' }),
              ]}
              submitLabel=${b.subscriptionStatus ? 'Change plan' : 'Subscribe'}
              onSubmit=${changePlan}
            />
            <h2>Subscription</h2>
            <p class="row">
              ${
                b.subscriptionStatus && !b.cancelAtPeriodEnd
                  ? html`<button type="button" class="danger" onClick=${() => void post('/api/billing/cancel', { atPeriodEnd: true })}>
                      Cancel at the end of the period
                    </button>`
                  : null
              }
              ${b.cancelAtPeriodEnd ? html`<button type="button" onClick=${() => void post('/api/billing/resume')}>Resume</button>` : null}
              ${b.hasBillingAccount ? html`<button type="button" onClick=${portal}>Open the Stripe billing portal</button>` : null}
            </p>`
        : null
    }`;
}
