// The platform host's face, for platform administrators.
import { html } from 'htm/preact';
import type { FaceDef } from '../views.ts';

export const platformFace: FaceDef = {
  heading: 'Platform administration',
  accepts: (session) => session.role === 'platform_admin',
  views: [
    {
      path: '/',
      component: ({ session }) =>
        html`<h1>Platform administration</h1>
          <p>Signed in as ${session.email}.</p>`,
    },
  ],
};
