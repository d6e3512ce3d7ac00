// Exactly-once handling of Hasura deliveries. Hasura redelivers an event or a
// cron invocation until it sees a 2xx (and after a restart), so the receipt
// and the handler's effect commit in one transaction: a redelivery finds the
// receipt and does nothing; a failed handler leaves no receipt and stays
// retryable. A concurrent duplicate waits on the first one's row lock.
import { asSystem, type Client, type Pool } from '../db/tx.ts';

export type DeliveryKind = 'event' | 'cron';

export type Outcome<T> = { status: 'processed'; result: T } | { status: 'duplicate' };

export function handleOnce<T>(
  pool: Pool,
  delivery: { id: string; kind: DeliveryKind; name: string },
  effect: (client: Client) => Promise<T>,
): Promise<Outcome<T>> {
  return asSystem(
    pool,
    async (client) => {
      const inserted = await client.query(
        `insert into public.hasura_event_receipts (event_id, kind, name) values ($1, $2, $3)
         on conflict (event_id) do nothing`,
        [delivery.id, delivery.kind, delivery.name],
      );
      if (inserted.rowCount === 0) return { status: 'duplicate' } as const;
      return { status: 'processed', result: await effect(client) } as const;
    },
    { kind: delivery.kind === 'cron' ? 'cron' : 'system' },
  );
}
