// The admin portal's platform face in a real browser: the tenants table and a
// tenant's page, suspending a tenant (its own host then refuses), a move
// between tiers followed step by step to done, failed jobs, the audit trail;
// axe on every page.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { Page } from 'playwright-core';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makePlatformAdmin, makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { expectAccessible, textOf, useBrowser } from '../support/browser.ts';
import { enqueue } from '../../actions-server/src/jobs/queue.ts';
import { runDueJobs } from '../../actions-server/src/jobs/runner.ts';
import { defineJob } from '../../actions-server/src/jobs/types.ts';

let acme: MadeTenant;
let mover: MadeTenant;
let ops: { email: string; password: string };
const browser = useBrowser();

const fx = useTestServer({ BASE_DOMAIN: 'localhost' });
beforeAll(async () => {
  // Chromium resolves every *.localhost name to 127.0.0.1: tenant hosts need no DNS; `localhost` is the platform host.
  acme = await makeTenant(fx.db, 'acme', { isolation: 'pooled' });
  mover = await makeTenant(fx.db, 'mover', { isolation: 'pooled' });
  ops = await makePlatformAdmin(fx.db);
});

const port = () => new URL(fx.srv.url).port;
const platformUrl = (path: string) => `http://localhost:${port()}/admin${path}`;
const tenantUrl = (slug: string, path: string) => `http://${slug}.localhost:${port()}/admin${path}`;

async function signIn(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Rows of the page's table once it shows exactly `n` (a new answer replaces the old one). */
async function rowsAre(page: Page, n: number): Promise<void> {
  await vi.waitFor(async () => expect(await page.locator('tbody tr[data-key]').count()).toBe(n), { timeout: 10_000, interval: 50 });
}

async function openTenant(page: Page, slug: string): Promise<void> {
  await page.getByLabel('Search').fill(slug);
  await page.getByRole('button', { name: 'Show tenants' }).click();
  await rowsAre(page, 1);
  await page.getByRole('link', { name: `${slug} Inc` }).click();
  await page.getByRole('heading', { name: `${slug} Inc` }).waitFor();
}

/** One platform administrator's tab for the whole file (its session lives in the tab). */
let adminTab: Page | undefined;
async function admin(path: string): Promise<Page> {
  if (!adminTab) {
    adminTab = await browser.page();
    await signIn(adminTab, platformUrl(path), ops.email, ops.password);
  } else {
    await adminTab.goto(platformUrl(path));
  }
  return adminTab;
}

describe('platform face', () => {
  it('suspends a tenant from its page, and the tenant host refuses its owner until reactivated', async () => {
    const owner = await browser.page();
    await signIn(owner, tenantUrl('acme', '/'), acme.ownerEmail, OWNER_PASSWORD);
    await owner.getByRole('heading', { name: 'Overview' }).waitFor();

    const page = await admin('/tenants');
    await page.getByRole('heading', { name: 'Tenants' }).waitFor();
    await page.locator('tbody tr[data-key="acme"]').waitFor();
    await expectAccessible(page);
    // A refused filter shows next to its field.
    await page.getByLabel('Search').fill('x'.repeat(101));
    await page.getByRole('button', { name: 'Show tenants' }).click();
    expect(await textOf(page.locator('.field-error[data-field="q"]'))).toContain('100');

    await openTenant(page, 'acme');
    await page.locator('#usage tr[data-x] td[data-series="Users"]').last().waitFor();
    expect(await page.locator('#usage tr[data-x]').last().locator('td[data-series="Users"]').getAttribute('data-value')).toBe('1');
    await expectAccessible(page);

    await page.getByRole('button', { name: 'Suspend' }).click();
    await page.locator('[data-status]', { hasText: 'suspended' }).waitFor();
    await page.getByRole('button', { name: 'Reactivate' }).waitFor();

    // The owner's next request is refused: the page shows the API's answer.
    await owner.reload();
    expect(await textOf(owner.getByRole('alert'))).toBe('This tenant is suspended; contact its owner or support');
    const token = z
      .object({ token: z.string() })
      .parse(JSON.parse((await owner.evaluate(() => sessionStorage.getItem('admin-session'))) ?? '{}')).token;
    const refused = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, { host: 'acme.localhost', token });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('TENANT_SUSPENDED');

    await page.getByRole('button', { name: 'Reactivate' }).click();
    await page.locator('[data-status]', { hasText: 'active' }).waitFor();
    await owner.reload();
    await owner.locator('.facts').waitFor();
  });

  it('moves a tenant to another tier and follows the steps to done', async () => {
    const page = await admin(`/tenants/${mover.tenant.id}`);
    await page.getByRole('heading', { name: 'mover Inc' }).waitFor();
    expect(await textOf(page.locator('[data-tier]'))).toBe('pooled');
    await page.getByLabel('Move to tier').selectOption('schema');
    await page.getByRole('button', { name: 'Move tenant' }).click();

    const seen: string[] = [];
    const state = page.locator('[data-move-state]');
    await state.waitFor();
    for (;;) {
      const now = (await state.textContent()) ?? '';
      if (seen.at(-1) !== now) seen.push(now);
      if (now === 'done' || now === 'aborted') break;
      await page.waitForTimeout(50);
    }
    // Each state seen once, in the order of the steps, ending done (a fast step may pass between two polls).
    const order = ['capturing', 'building', 'copying', 'syncing', 'freezing', 'switching', 'exposing', 'cleaning', 'done'];
    expect(
      seen.every((s) => order.includes(s)),
      seen.join(' → '),
    ).toBe(true);
    expect(seen.length, seen.join(' → ')).toBeGreaterThan(1);
    expect(seen.at(-1)).toBe('done');
    expect(seen.map((s) => order.indexOf(s))).toEqual([...seen.map((s) => order.indexOf(s))].sort((a, b) => a - b));
    expect(await page.locator('ol.steps li[data-state="done"]').count()).toBe(8);
    await page.locator('[data-tier]', { hasText: 'schema' }).waitFor();
  });

  it('lists failed jobs to retry or discard, and the audit trail with its filters', async () => {
    let healthy = false;
    const flaky = defineJob({
      name: 'test.portal-flaky',
      payload: z.object({}),
      run: () => (healthy ? Promise.resolve() : Promise.reject(new Error('the mail server said no'))),
    });
    const first = await enqueue(fx.db.pool, 'test.portal-flaky', {}, { maxAttempts: 1 });
    const second = await enqueue(fx.db.pool, 'test.portal-flaky', {}, { maxAttempts: 1 });
    await runDueJobs(fx.srv.ctx, [flaky]);

    const page = await admin('/jobs');
    await page.locator(`tbody tr[data-key="${first}"]`).waitFor();
    expect(await textOf(page.locator(`tbody tr[data-key="${first}"]`))).toContain('the mail server said no');
    await expectAccessible(page);
    healthy = true;
    await page.getByRole('button', { name: `Retry job ${first}` }).click();
    await page.locator(`tbody tr[data-key="${first}"]`, { hasText: '0 of 1' }).waitFor();
    await page.getByRole('button', { name: `Discard job ${second}` }).click();
    await page.locator(`tbody tr[data-key="${second}"]`).waitFor({ state: 'detached' });
    await runDueJobs(fx.srv.ctx, [flaky]);
    await page.reload();
    await page.getByText('No failed jobs.').waitFor();

    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.getByRole('heading', { name: 'Audit trail' }).waitFor();
    await page.locator('tbody tr[data-key]').first().waitFor();
    await page.getByLabel('Action').fill('tenant.suspended');
    await page.getByRole('button', { name: 'Show entries' }).click();
    await rowsAre(page, 1);
    expect(await textOf(page.locator('tbody tr[data-key]'))).toContain('acme');
    await page.getByLabel('Action').fill('Not An Action');
    await page.getByRole('button', { name: 'Show entries' }).click();
    expect(await textOf(page.locator('.field-error[data-field="action"]'))).toContain('an action such as tenant.updated');
    await expectAccessible(page);
  });
});
