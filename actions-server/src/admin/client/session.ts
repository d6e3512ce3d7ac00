// The signed-in person's tokens, per browser tab (sessionStorage): closing the
// tab forgets them, and nothing but this origin's own script can read them.
export interface Session {
  token: string;
  refreshToken: string;
  role: string;
  /** null for a platform administrator. */
  tenantId: string | null;
  email: string;
}

const KEY = 'admin-session';

export function loadSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Session;
  } catch {
    return null;
  }
}

export function saveSession(session: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
