// Every periodic rule is a job of the runner, scheduled without Hasura. Tests
// move rows' times and run what a scheduler tick queues (the job with its cron
// slot as payload), never waiting for wall time.
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../support/db.ts';
import { makeTenant, type MadeTenant } from '../support/factories.ts';
import { JOBS } from '../../actions-server/src/jobs/registry.ts';
import { enqueue } from '../../actions-server/src/jobs/queue.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { endDueTrials } from '../../actions-server/src/billing/jobs.ts';
import { withTenantData } from '../../actions-server/src/tenants/data.ts';
import { toAppError } from '../../actions-server/src/core/errors.ts';
import { tenantPlacementOf } from '../../actions-server/src/tenants/placement.ts';

const fx = useTestServer();

/** What one scheduler tick does for `name`: queue it for its slot (the cron payload), then the worker runs it. */
async function tick(name: string, at: Date = new Date(), extra: Record<string, unknown> = {}): Promise<void> {
  await enqueue(fx.db.pool, name, { _cron: { ts: at.toISOString(), backfilled: false }, ...extra });
  await runDueJobs(fx.srv.ctx, JOBS);
}

const tenantRow = async (t: MadeTenant) =>
  (await fx.db.pool.query('select status, plan, suspended_at, billing_suspended from public.tenants where id = $1', [t.tenant.id])).rows[0];
const auditActions = async (t: MadeTenant, action: string) =>
  (await fx.db.pool.query('select actor_kind from public.tenant_audit_logs where tenant_id = $1 and action = $2', [t.tenant.id, action]))
    .rows;

describe('the schedule', () => {
  it('has every periodic rule as a cron job of its area, trials checked every minute', () => {
    const scheduled = Object.fromEntries(JOBS.filter((j) => j.schedule).map((j) => [j.name, j.schedule]));
    expect(Object.keys(scheduled)).toEqual(
      expect.arrayContaining([
        'billing.end-trials',
        'billing.prune-events',
        'billing.retry-failed-events',
        'billing.suspend-past-due',
        'hasura.prune-receipts',
        'invitations.expire',
        'tenants.archive-cancelled',
      ]),
    );
    // Every scheduled job belongs to an area (area.verb) and has a five-field cron pattern.
    for (const [name, schedule] of Object.entries(scheduled)) {
      expect(name).toMatch(/^[a-z]+\.[a-z-]+$/);
      expect(schedule?.split(' ')).toHaveLength(5);
    }
    expect(scheduled['billing.end-trials']).toBe('* * * * *');
  });
});

describe('trials end', () => {
  it('moves a trial past its end to the free plan within one tick, audited as cron; a second tick changes nothing', async () => {
    const t = await makeTenant(fx.db, 'trial-ends', { plan: 'pro', trial: true });
    expect(await tenantRow(t)).toMatchObject({ status: 'trial', plan: 'pro' });
    await tick('billing.end-trials');
    expect(await tenantRow(t)).toMatchObject({ status: 'trial', plan: 'pro' });

    await fx.db.pool.query(`update public.tenants set trial_ends_at = now() - interval '1 minute' where id = $1`, [t.tenant.id]);
    await tick('billing.end-trials');
    expect(await tenantRow(t)).toMatchObject({ status: 'active', plan: 'free' });
    expect(await auditActions(t, 'tenant.plan_changed')).toEqual([{ actor_kind: 'cron' }]);
    // The resolver was told (NOTIFY from the tenant row), so the host serves the new state.
    await expect.poll(async () => (await fx.srv.ctx.resolver.bySlug('trial-ends'))?.status).toBe('active');

    await tick('billing.end-trials');
    expect(await auditActions(t, 'tenant.plan_changed')).toHaveLength(1);
  });

  it('leaves a trial that a subscription pays for to Stripe', async () => {
    const t = await makeTenant(fx.db, 'trial-paid', { plan: 'pro', trial: true });
    await fx.db.pool.query(
      `update public.tenants set trial_ends_at = now() - interval '1 minute', stripe_subscription_id = 'sub_paid', subscription_status = 'active'
       where id = $1`,
      [t.tenant.id],
    );
    await tick('billing.end-trials');
    expect(await tenantRow(t)).toMatchObject({ status: 'trial', plan: 'pro' });
  });

  it('with TRIAL_END_ACTION=suspend suspends instead (a billing suspension a payment lifts)', async () => {
    const t = await makeTenant(fx.db, 'trial-suspend', { plan: 'enterprise', trial: true });
    await fx.db.pool.query(`update public.tenants set trial_ends_at = now() - interval '1 hour' where id = $1`, [t.tenant.id]);
    const ended = await endDueTrials({ ...fx.srv.ctx, env: { ...fx.srv.ctx.env, TRIAL_END_ACTION: 'suspend' } }, new Date());
    expect(ended).toContainEqual({ tenantId: t.tenant.id, outcome: 'suspended' });
    expect(await tenantRow(t)).toMatchObject({ status: 'suspended', plan: 'enterprise', billing_suspended: true });
  });

  it('keeps every row of a tenant over the free limits after the downgrade, and refuses growth', async () => {
    const t = await makeTenant(fx.db, 'trial-big', { plan: 'pro', trial: true });
    const data = <T>(fn: Parameters<typeof withTenantData<T>>[3]) => withTenantData(fx.db, tenantPlacementOf(t.tenant), t.ownerId, fn);
    await data((c) => c.query(`insert into channels (name) select 'c' || g from generate_series(1, 7) g`));
    await fx.db.pool.query(`update public.tenants set trial_ends_at = now() - interval '1 minute' where id = $1`, [t.tenant.id]);
    await tick('billing.end-trials');
    expect(await tenantRow(t)).toMatchObject({ plan: 'free' });
    expect(await data(async (c) => Number((await c.query('select count(*) from channels')).rows[0].count))).toBe(7);
    const refused = await data((c) => c.query(`insert into channels (name) values ('eighth')`)).catch((e: unknown) => toAppError(e));
    expect(refused).toMatchObject({ code: 'QUOTA_EXCEEDED', details: expect.objectContaining({ limit: 'channels', plan: 'free' }) });
  });
});

describe('other periodic rules', () => {
  it('suspends a past-due tenant only once its grace period has passed at the slot time', async () => {
    const late = await makeTenant(fx.db, 'late-payer');
    await fx.db.pool.query(`update public.tenants set past_due_since = now(), grace_ends_at = now() + interval '1 day' where id = $1`, [
      late.tenant.id,
    ]);
    await tick('billing.suspend-past-due');
    expect(await tenantRow(late)).toMatchObject({ status: 'active' });
    await tick('billing.suspend-past-due', new Date(Date.now() + 2 * 86_400_000));
    expect(await tenantRow(late)).toMatchObject({ status: 'suspended', billing_suspended: true });
  });

  it('archives tenants cancelled long ago, and only those', async () => {
    const old = await makeTenant(fx.db, 'gone-long');
    const recent = await makeTenant(fx.db, 'gone-recent');
    await fx.db.pool.query(`update public.tenants set status = 'cancelled', cancelled_at = now() - interval '100 days' where id = $1`, [
      old.tenant.id,
    ]);
    await fx.db.pool.query(`update public.tenants set status = 'cancelled', cancelled_at = now() - interval '10 days' where id = $1`, [
      recent.tenant.id,
    ]);
    await tick('tenants.archive-cancelled');
    expect((await tenantRow(old)).status).toBe('archived');
    expect((await tenantRow(recent)).status).toBe('cancelled');
  });

  it('deletes expired invitations (audited as cron) and keeps fresh ones', async () => {
    const t = await makeTenant(fx.db, 'inviter');
    const invite = (email: string, expires: string) =>
      fx.db.pool.query(
        `insert into public.tenant_invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
         values ($1, $2, 'member', sha256(convert_to($2, 'UTF8')), $3, now() + $4::interval)`,
        [t.tenant.id, email, t.ownerId, expires],
      );
    await invite('old@inviter.example.com', '-1 day');
    await invite('fresh@inviter.example.com', '6 days');
    await tick('invitations.expire');
    const left = await fx.db.pool.query('select email from public.tenant_invitations where tenant_id = $1', [t.tenant.id]);
    expect(left.rows).toEqual([{ email: 'fresh@inviter.example.com' }]);
    expect(await auditActions(t, 'invitation.deleted')).toEqual([{ actor_kind: 'cron' }]);
  });

  it('prunes old processed Stripe events and Hasura receipts, never an unprocessed event', async () => {
    await fx.db.pool.query(
      `insert into public.stripe_webhooks (event_id, type, payload, processed, processed_at, created_at)
       values ('evt_old', 'invoice.paid', '{}', true, now() - interval '40 days', now() - interval '40 days'),
              ('evt_new', 'invoice.paid', '{}', true, now(), now()),
              ('evt_failed', 'invoice.paid', '{}', false, null, now() - interval '40 days')`,
    );
    await fx.db.pool.query(
      `insert into public.hasura_event_receipts (event_id, kind, name, received_at) values ('old-receipt', 'event', 'x', now() - interval '40 days')`,
    );
    await tick('billing.prune-events');
    await tick('hasura.prune-receipts');
    const kept = await fx.db.pool.query(`select event_id from public.stripe_webhooks where event_id like 'evt\\_%' order by event_id`);
    expect(kept.rows.map((r) => r.event_id)).toEqual(['evt_failed', 'evt_new']);
    expect((await fx.db.pool.query(`select 1 from public.hasura_event_receipts where event_id = 'old-receipt'`)).rowCount).toBe(0);
  });
});
