// A local webhook receiver that checks every Standard Webhooks signature with
// the `standardwebhooks` library and can be told to fail.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  path: string;
  id: string;
  timestamp: string;
  body: { type: string; timestamp: string; data: Record<string, unknown> };
  /** Verified with the secret registered for the path. */
  verified: boolean;
  answered: number;
}

export interface WebhookReceiver {
  url: string;
  received: Received[];
  /** The endpoint secret for a path (set after creating the endpoint). */
  secrets: Map<string, string>;
  /** Status to answer per path (default 204); a function decides per request. */
  respond: Map<string, number | ((r: Received) => number)>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: Received[] = [];
  const secrets = new Map<string, string>();
  const respond = new Map<string, number | ((r: Received) => number)>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      let verified = false;
      const secret = secrets.get(path);
      if (secret) {
        try {
          new Webhook(secret).verify(raw, headers);
          verified = true;
        } catch {
          verified = false;
        }
      }
      const entry: Received = {
        path,
        id: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        body: JSON.parse(raw),
        verified,
        answered: 0,
      };
      const rule = respond.get(path) ?? 204;
      entry.answered = typeof rule === 'function' ? rule(entry) : rule;
      received.push(entry);
      res.writeHead(entry.answered).end();
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    secrets,
    respond,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
