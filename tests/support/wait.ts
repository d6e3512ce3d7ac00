// Waiting for something another process or connection does: polled with
// vi.waitUntil (an error from the condition fails at once), and a failure says
// what was being waited for.
import { vi } from 'vitest';

export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  { timeout = 30_000, interval = 20 }: { timeout?: number; interval?: number } = {},
): Promise<void> {
  await vi.waitUntil(cond, { timeout, interval }).catch((err: unknown) => {
    throw new Error(`waiting for ${what}: ${(err as Error).message}`, { cause: err });
  });
}
