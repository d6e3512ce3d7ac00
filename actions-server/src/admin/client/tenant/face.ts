// A tenant host's face, for its owners and admins.
import type { FaceDef } from '../views.ts';
import { hostTenant } from '../host.ts';
import { Overview } from './overview.ts';

export const tenantFace: FaceDef = {
  // Read when shown: the bundle holds both faces and this module is evaluated on the platform host too.
  get heading() {
    return `Administration of ${hostTenant().slug}`;
  },
  accepts: (session) => session.tenantId === hostTenant().id,
  views: [{ path: '/', nav: 'Overview', component: Overview }],
};
