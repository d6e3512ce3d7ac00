// argon2id hashing (about 64 MiB and a quarter second each) through a bounded
// queue: at most PASSWORD_HASH_CONCURRENCY run at once and at most
// PASSWORD_HASH_QUEUE_MAX wait; past that the caller gets 503 with Retry-After
// instead of the process running out of memory or threads.
import argon2 from 'argon2';
import { AppError } from '../core/errors.ts';

interface QueueLimits {
  concurrency: number;
  queueMax: number;
  /** argon2id memory in KiB (OWASP's floor is 19,456; the default 65,536). */
  memoryKib: number;
}

let limits: QueueLimits = { concurrency: 4, queueMax: 32, memoryKib: 65_536 };
let running = 0;
const waiting: (() => void)[] = [];

/** Set once at boot from the configuration. */
export function configurePasswordHashing(next: QueueLimits): void {
  limits = next;
}

async function bounded<T>(work: () => Promise<T>): Promise<T> {
  if (running >= limits.concurrency) {
    if (waiting.length >= limits.queueMax) {
      throw new AppError(
        'SERVICE_UNAVAILABLE',
        'Too many sign-ins at once; retry in a moment',
        { reason: 'password_hash_queue_full' },
        {
          'Retry-After': '1',
        },
      );
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else {
    running++;
  }
  try {
    return await work();
  } finally {
    // Hand the slot to the next waiter, or free it.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

export function hashPassword(password: string): Promise<string> {
  return bounded(() => argon2.hash(password, { type: argon2.argon2id, memoryCost: limits.memoryKib }));
}

// Verifying against a fixed hash when the account does not exist keeps the
// response time of "no such user" equal to "wrong password".
let dummyHash: Promise<string> | undefined;

export async function verifyPassword(hash: string | null | undefined, password: string): Promise<boolean> {
  if (!hash) {
    dummyHash ??= argon2.hash('not-a-real-password-used-for-timing', { type: argon2.argon2id, memoryCost: limits.memoryKib });
    const dummy = await dummyHash;
    await bounded(() => argon2.verify(dummy, password).catch(() => false));
    return false;
  }
  return bounded(() => argon2.verify(hash, password).catch(() => false));
}

/** Spends the time of one verification without an account (equal-time answers for unknown accounts). */
export async function spendVerification(password: string): Promise<void> {
  await verifyPassword(undefined, password);
}
