// A tenant host's face, for its owners and admins.
import type { FaceDef } from '../views.ts';
import { hostTenant } from '../host.ts';
import { Overview } from './overview.ts';
import { Settings } from './settings.ts';
import { Members } from './members.ts';
import { ApiKeys } from './api-keys.ts';
import { Usage } from './usage.ts';
import { Audit } from './audit.ts';
import { BillingView } from './billing.ts';

export const tenantFace: FaceDef = {
  // Read when shown: the bundle holds both faces and this module is evaluated on the platform host too.
  get heading() {
    return `Administration of ${hostTenant().slug}`;
  },
  accepts: (session) => session.tenantId === hostTenant().id,
  views: [
    { path: '/', nav: 'Overview', component: Overview },
    { path: '/settings', nav: 'Settings', component: Settings },
    { path: '/members', nav: 'Members', component: Members },
    { path: '/api-keys', nav: 'API keys', component: ApiKeys },
    { path: '/usage', nav: 'Usage', component: Usage },
    { path: '/audit', nav: 'Audit trail', component: Audit },
    { path: '/billing', nav: 'Billing', component: BillingView },
  ],
};
