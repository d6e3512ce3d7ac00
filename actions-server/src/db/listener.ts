// One LISTEN connection for an in-process cache (ARCHITECTURE.md §12): it hands
// each notification's payload to the cache, and says when it is lost, because a
// notification sent while it was away is never delivered. The cache must then
// stop answering from memory until the connection is back (reconnect every 1 s).
import pg from 'pg';
import type { Logger } from '../core/log.ts';

export interface NotificationListenerOptions {
  databaseUrl: string;
  log: Logger;
  channel: string;
  onNotify(payload: string): void;
  /** Called when the connection is lost (and again for each failed reconnect): drop everything cached. */
  onLost(): void;
}

export class NotificationListener {
  private client: pg.Client | undefined;
  private stopped = true;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connected = false;

  constructor(private readonly opts: NotificationListenerOptions) {}

  /** listening: every change from now on is notified; lost: changes may go unseen; stopped: never started, or stopped. */
  get state(): 'listening' | 'lost' | 'stopped' {
    return this.stopped ? 'stopped' : this.connected ? 'listening' : 'lost';
  }

  /** Resolves once LISTEN is in place. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl, application_name: `listen:${this.opts.channel}` });
    client.on('notification', (msg) => this.opts.onNotify(msg.payload ?? ''));
    client.on('error', (err) => {
      this.opts.log.warn({ err: err.message, channel: this.opts.channel }, 'change listener lost; cache off until it reconnects');
      this.lost(client);
    });
    client.on('end', () => this.lost(client));
    await client.connect();
    await client.query(`listen "${this.opts.channel}"`);
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.connected = true;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client && this.client !== undefined) return;
    this.connected = false;
    this.client = undefined;
    this.opts.onLost();
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped) return;
      this.connect().catch((err: Error) => {
        this.opts.log.warn({ err: err.message, channel: this.opts.channel }, 'change listener reconnect failed');
        this.lost(client);
      });
    }, 1_000);
    this.reconnectTimer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.connected = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}
