// A face's views: a path under /admin (with :named segments), an optional
// navigation label, and the component that renders it.
import type { VNode } from 'preact';
import type { Session } from './session.ts';

export interface ViewProps {
  params: Record<string, string>;
  session: Session;
}

export interface View {
  path: string;
  /** Shown in the navigation when set. */
  nav?: string;
  component: (props: ViewProps) => VNode;
}

export interface FaceDef {
  heading: string;
  views: View[];
  /** Whether a stored session belongs on this host (tenant: its own members; platform: administrators). */
  accepts: (session: Session) => boolean;
}
