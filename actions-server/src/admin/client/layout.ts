// The frame of every signed-in view: a skip link, the navigation of this face,
// who is signed in, sign-out, and the view itself in <main>.
import { html } from 'htm/preact';
import type { ComponentChildren, VNode } from 'preact';
import { api } from './api.ts';
import { BASE, navigate } from './router.ts';
import { clearSession, type Session } from './session.ts';

export interface NavItem {
  href: string;
  label: string;
}

interface LayoutProps {
  heading: string;
  nav: NavItem[];
  current: string;
  session: Session;
  children: ComponentChildren;
}

/** A view's own path, or a path under it (the overview, at /admin itself, owns only itself). */
function isCurrent(href: string, current: string): boolean {
  return href === current || (href !== BASE && current.startsWith(`${href}/`));
}

async function signOut(): Promise<void> {
  // Ending the session server-side is best effort: the tokens are forgotten here either way.
  await api('POST', '/api/auth/logout').catch(() => undefined);
  clearSession();
  navigate(`${BASE}/sign-in`, { replace: true });
}

export function Layout({ heading, nav, current, session, children }: LayoutProps): VNode {
  return html`<a class="skip" href="#content">Skip to content</a>
    <header class="top">
      <p class="brand">${heading}</p>
      <nav aria-label="Sections">
        <ul>
          ${nav.map((n) => html`<li><a href=${n.href} aria-current=${isCurrent(n.href, current) ? 'page' : undefined}>${n.label}</a></li>`)}
        </ul>
      </nav>
      <p class="who">
        <span>${session.email ? `${session.email} (${session.role})` : session.role}</span>
        <button type="button" class="link" onClick=${() => void signOut()}>Sign out</button>
      </p>
    </header>
    <main id="content" tabindex="-1">${children}</main>`;
}
