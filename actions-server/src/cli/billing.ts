// `billing ...`: recovery from Stripe (replaying its Events API) and retrying
// stored events whose processing failed.
import type { Command } from 'commander';
import { replayStripeEvents, retryFailedEvents } from '../billing/replay.ts';
import { requireStripe } from '../billing/stripe-client.ts';
import { printJson, UsageError, withRuntime } from './runtime.ts';

const RELATIVE = /^(\d{1,4})([hd])$/;

/** `--since`: an ISO time (with a zone) or a window back from now such as 24h or 7d. */
export function parseSince(value: string, now: Date = new Date()): Date {
  if (value.length > 40) throw new UsageError('--since must be an ISO time (e.g. 2026-11-30T00:00:00Z) or a window such as 24h or 7d');
  const rel = RELATIVE.exec(value);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * (rel[2] === 'h' ? 3_600_000 : 86_400_000));
  const iso = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2}))?$/.test(value)
    ? new Date(value)
    : undefined;
  if (!iso || Number.isNaN(iso.getTime())) {
    throw new UsageError(`--since must be an ISO time (e.g. 2026-11-30T00:00:00Z) or a window such as 24h or 7d, got "${value}"`);
  }
  if (iso.getTime() > now.getTime()) throw new UsageError('--since is in the future');
  return iso;
}

export function register(program: Command): void {
  const billing = program.command('billing').description('billing: recover events from Stripe');

  billing
    .command('replay')
    .description("apply every handled Stripe event since a time, from Stripe's Events API, each exactly once")
    .requiredOption('--since <time>', 'ISO time or a window back from now (24h, 7d)')
    .action((opts: { since: string }) => {
      const since = parseSince(opts.since);
      return withRuntime(async ({ ctx }) => {
        requireStripe(ctx);
        const report = await replayStripeEvents(ctx, since);
        printJson(report);
        if (report.failed.length) process.exitCode = 1;
      });
    });

  billing
    .command('retry-failed')
    .description('re-process stored events whose processing failed (ignoring their backoff)')
    .action(() =>
      withRuntime(async ({ ctx, env }) => {
        // A clock far ahead makes every backoff due.
        console.log(JSON.stringify(await retryFailedEvents(ctx, new Date(Date.now() + 365 * 86_400_000), env.STRIPE_EVENT_MAX_ATTEMPTS)));
      }),
    );
}
