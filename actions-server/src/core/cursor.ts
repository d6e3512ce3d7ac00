// Keyset cursors for list routes: the last row's sort key, opaque to callers
// (base64url JSON), checked against a schema when it comes back.
import type { z } from 'zod';
import { AppError } from './errors.ts';

export function encodeCursor(key: readonly string[]): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** The key a `nextCursor` carried; anything else is 400 naming `cursor`. */
export function decodeCursor<T extends z.ZodType>(schema: T, cursor: string): z.infer<T> {
  try {
    return schema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw new AppError('VALIDATION_FAILED', 'Invalid query: cursor: must be the nextCursor of a previous page', {
      issues: [{ path: 'cursor', message: 'must be the nextCursor of a previous page' }],
    });
  }
}
