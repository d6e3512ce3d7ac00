// The platform host's face, for platform administrators.
import type { FaceDef } from '../views.ts';
import { Audit } from './audit.ts';
import { Jobs } from './jobs.ts';
import { TenantPage } from './tenant.ts';
import { Tenants } from './tenants.ts';

export const platformFace: FaceDef = {
  heading: 'Platform administration',
  accepts: (session) => session.role === 'platform_admin',
  views: [
    { path: '/', component: Tenants },
    { path: '/tenants', nav: 'Tenants', component: Tenants },
    { path: '/tenants/:id', component: TenantPage },
    { path: '/jobs', nav: 'Failed jobs', component: Jobs },
    { path: '/audit', nav: 'Audit trail', component: Audit },
  ],
};
