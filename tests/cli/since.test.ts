// `billing replay --since`: an ISO time with a zone, or a window back from now; anything else is a usage error (exit 2).
import { expect, it } from 'vitest';
import { parseSince } from '../../actions-server/src/cli/billing.ts';
import { UsageError } from '../../actions-server/src/cli/runtime.ts';

const now = new Date('2026-12-01T12:00:00Z');

it('reads ISO times and windows', () => {
  expect(parseSince('24h', now)).toEqual(new Date('2026-11-30T12:00:00Z'));
  expect(parseSince('7d', now)).toEqual(new Date('2026-11-24T12:00:00Z'));
  expect(parseSince('2026-11-30T08:30:00Z', now)).toEqual(new Date('2026-11-30T08:30:00Z'));
  expect(parseSince('2026-11-30T08:30:00+01:00', now)).toEqual(new Date('2026-11-30T07:30:00Z'));
});

it('refuses anything else as a usage error', () => {
  for (const bad of ['yesterday', '24x', '2026-13-45T00:00:00Z', '2026-11-30T08:30', '2027-01-01T00:00:00Z', 'x'.repeat(100), '']) {
    expect(() => parseSince(bad, now), bad).toThrow(UsageError);
  }
});
