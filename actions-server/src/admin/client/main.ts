// The admin portal's entry: pick the face for this host, then the view for the path.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect } from 'preact/hooks';
import type { VNode } from 'preact';
import { toSignIn } from './api.ts';
import { face } from './host.ts';
import { Layout } from './layout.ts';
import { BASE, interceptLinks, matchPath, useLocation } from './router.ts';
import { loadSession } from './session.ts';
import { SignIn } from './sign-in.ts';
import { AcceptInvitation } from './accept.ts';
import type { FaceDef } from './views.ts';
import { platformFace } from './platform/face.ts';
import { tenantFace } from './tenant/face.ts';

const def: FaceDef = face === 'tenant' ? tenantFace : platformFace;

function ToSignIn(): null {
  useEffect(toSignIn, []);
  return null;
}

function App(): VNode | null {
  const url = useLocation();
  const path = url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
  useEffect(() => {
    document.getElementById('content')?.focus();
  }, [path]);
  if (path === `${BASE}/sign-in`) return html`<${SignIn} />`;
  if (face === 'tenant' && path === `${BASE}/accept-invitation`) return html`<${AcceptInvitation} />`;
  const session = loadSession();
  if (!session || !def.accepts(session)) return html`<${ToSignIn} />`;
  const sub = path.slice(BASE.length) || '/';
  let body: VNode = html`<h1>Not found</h1>
    <p>There is no page at this address.</p>`;
  for (const view of def.views) {
    const match = matchPath(view.path, sub);
    if (match) {
      body = html`<${view.component} key=${view.path} params=${match.params} session=${session} />`;
      break;
    }
  }
  const nav = def.views.filter((v) => v.nav).map((v) => ({ href: v.path === '/' ? BASE : BASE + v.path, label: v.nav! }));
  return html`<${Layout} heading=${def.heading} nav=${nav} current=${path} session=${session}>${body}<//>`;
}

const root = document.getElementById('app')!;
interceptLinks(root);
render(html`<${App} />`, root);
