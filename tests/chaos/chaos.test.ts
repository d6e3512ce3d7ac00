// `npm run chaos` at a small size: a few seconds of mixed traffic while the
// server process is SIGKILLed and restarted and backends are terminated; every
// invariant must hold and the server must never exit on its own.
import { expect, inject, it } from 'vitest';
import { renderReport, runChaos } from '../../chaos/harness.ts';

it('keeps every invariant, with no self-inflicted crash, through kills and terminated backends', async () => {
  const report = await runChaos({
    seconds: 6,
    killEveryMs: 3_000,
    terminateEveryMs: 700,
    workers: 3,
    adminUrl: inject('pgAdminUrl'),
    template: inject('pgTemplate'),
  });
  const text = renderReport(report);
  expect(report.kills, text).toBeGreaterThan(0);
  expect(report.selfCrashes, text).toEqual([]);
  expect(report.uncaught, text).toEqual([]);
  expect(
    report.invariants.filter((i) => !i.ok),
    text,
  ).toEqual([]);
  // Boots, sign-ups and deliveries are slow on a loaded machine: the bound is generous, the run itself is short.
}, 300_000);
