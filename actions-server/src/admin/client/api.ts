// The REST API from the browser: the session's token on every call, one
// refresh on a 401, then back to sign-in with the current page to return to.
import { clearSession, loadSession, saveSession, type Session } from './session.ts';
import { BASE, navigate } from './router.ts';

export interface Issue {
  path: string;
  message: string;
}

/** The API's one error shape: `{error: {code, message, details?}}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** The fields the API named: `details.issues` entries by path. */
  get issues(): Issue[] {
    const issues = this.details['issues'];
    if (!Array.isArray(issues)) return [];
    return issues.filter(
      (i): i is Issue =>
        typeof i === 'object' && i !== null && typeof (i as Issue).path === 'string' && typeof (i as Issue).message === 'string',
    );
  }
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

async function errorOf(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as ErrorBody;
  const e = body.error ?? {};
  return new ApiError(
    res.status,
    typeof e.code === 'string' ? e.code : 'HTTP_' + res.status,
    typeof e.message === 'string' ? e.message : `The server answered ${res.status}`,
    typeof e.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : {},
  );
}

/** Sends the person to sign-in, remembering where they were. */
export function toSignIn(): void {
  clearSession();
  const here = location.pathname + location.search;
  const next = here.startsWith(`${BASE}/sign-in`) ? '' : `?next=${encodeURIComponent(here)}`;
  navigate(`${BASE}/sign-in${next}`, { replace: true });
}

let refreshing: Promise<boolean> | undefined;

/** One refresh at a time: concurrent 401s share it (a refresh token is single use). */
function refresh(session: Session): Promise<boolean> {
  refreshing ??= (async () => {
    try {
      const res = await fetch('/api/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken: session.refreshToken }),
      });
      if (!res.ok) return false;
      const next = (await res.json()) as { token: string; refreshToken: string };
      saveSession({ ...session, token: next.token, refreshToken: next.refreshToken });
      return true;
    } finally {
      refreshing = undefined;
    }
  })();
  return refreshing;
}

async function send(method: string, path: string, body: unknown, retried = false): Promise<Response> {
  const session = loadSession();
  const headers: Record<string, string> = {};
  if (session) headers['authorization'] = `Bearer ${session.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (res.status === 401 && session) {
    if (!retried && (await refresh(session))) return send(method, path, body, true);
    const err = await errorOf(res);
    toSignIn();
    throw err;
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

/** A JSON call; resolves with the answer's body, rejects with an ApiError. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await send(method, path, body);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** A file answer (an export) saved through the browser's download. */
export async function download(path: string, filename: string): Promise<void> {
  const res = await send('GET', path, undefined);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.click();
  URL.revokeObjectURL(url);
}
