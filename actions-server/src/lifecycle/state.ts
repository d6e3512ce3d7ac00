// Where the process is in its life (starting, serving, draining, stopped) and
// which HTTP requests are in flight, so a shutdown can wait for exactly those.
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Phase = 'starting' | 'serving' | 'draining' | 'stopped';

export class Lifecycle {
  phase: Phase;
  readonly startedAt = Date.now();
  private readonly inFlight = new Set<ServerResponse>();
  private waiters: (() => void)[] = [];

  constructor(phase: Phase = 'starting') {
    this.phase = phase;
  }

  get accepting(): boolean {
    return this.phase === 'serving';
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Counts a request from now until its response is sent or its connection closes. */
  track(_req: IncomingMessage, res: ServerResponse): void {
    this.inFlight.add(res);
    const done = () => {
      if (!this.inFlight.delete(res)) return;
      if (this.inFlight.size === 0) {
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
      }
    };
    res.once('finish', done);
    res.once('close', done);
  }

  /** Stops taking new work: responses still to be sent close their connection after them. */
  drain(): void {
    if (this.phase === 'stopped') return;
    this.phase = 'draining';
    for (const res of this.inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
  }

  /** Resolves true once no request is in flight, false if `timeoutMs` passes first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== onIdle);
        resolve(false);
      }, timeoutMs);
      const onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(onIdle);
    });
  }
}
