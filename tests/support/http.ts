// A tiny HTTP client that can set Host (fetch cannot), for tenant-host tests.
// Every answer to a documented route is checked against the OpenAPI document
// (tests/support/openapi.ts): an undocumented status or a body off its schema
// fails the test that made the request.
import http from 'node:http';
import { checkAnswer } from './openapi.ts';

export interface HttpResponse<T = unknown> {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: T;
  text: string;
}

export interface RequestOptions {
  method?: string;
  host?: string;
  token?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Sent as-is (for malformed JSON tests). */
  rawBody?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read untyped JSON answers; callers name T where they care
export function request<T = any>(baseUrl: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse<T>> {
  const url = new URL(path, baseUrl);
  const payload = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.host) headers['host'] = opts.host;
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const method = opts.method ?? (payload === undefined ? 'GET' : 'POST');
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: leave the text
        }
        const status = res.statusCode ?? 0;
        try {
          checkAnswer(method, url.pathname, { status, contentType: res.headers['content-type'], body, text });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        resolve({ status, headers: res.headers, body: body as T, text });
      });
    });
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
