// The admin portal's tenant face in a real browser, one story from sign-in to
// the usage chart: the API's refusals shown where they belong, a 401 sent to
// sign-in and back, two people in two contexts, no CSP refusal or script error
// in any page (tests/support/browser.ts) and no serious accessibility problem.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { Page } from 'playwright-core';
import { useTestServer } from '../support/db.ts';
import { request } from '../support/http.ts';
import { makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { makePerson, PERSON_PASSWORD, roleIn, sessionToken } from '../support/people.ts';
import { expectAccessible, textOf, useBrowser } from '../support/browser.ts';
import { periodsUntil } from '../../actions-server/src/usage/service.ts';

let acme: MadeTenant;
const browser = useBrowser();
let owner: Page;

const fx = useTestServer({ BASE_DOMAIN: 'localhost' });
beforeAll(async () => {
  // Chromium resolves every *.localhost name to 127.0.0.1: tenant hosts need no DNS.
  acme = await makeTenant(fx.db, 'acme');
  // The audit trail is a plan feature; acme keeps the free plan's limits for the usage chart.
  const ops = await makePerson(fx.db, { platformAdmin: true, label: 'ops' });
  const granted = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}/entitlements`, {
    method: 'PUT',
    token: await sessionToken(fx.srv, ops.id, null, 'platform_admin'),
    body: { features: { audit_logs: true } },
  });
  expect(granted.status).toBe(200);
});

/** As long as a locator waits (the context's default): a page's answer, not a schedule. */
const UI_WAIT = { timeout: 10_000, interval: 100 };

const acmeUrl = (path: string) => `http://acme.localhost:${new URL(fx.srv.url).port}/admin${path}`;

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Follows a navigation link and waits for the view's heading. */
async function open(page: Page, link: string, heading = link): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: link }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
}

describe('tenant face', () => {
  it('sends a visitor to sign-in and back to the page asked for, shows a wrong password, and again after a 401', async () => {
    owner = await browser.page();
    await owner.goto(acmeUrl('/members'));
    await owner.waitForURL(/\/admin\/sign-in\?next=%2Fadmin%2Fmembers$/);
    await expectAccessible(owner);
    await signIn(owner, acme.ownerEmail, 'wrong password');
    expect(await textOf(owner.getByRole('alert'))).toBe('Wrong email or password');
    await signIn(owner, acme.ownerEmail, OWNER_PASSWORD);
    await owner.getByRole('heading', { level: 1, name: 'Members' }).waitFor();
    expect(new URL(owner.url()).pathname).toBe('/admin/members');
    await expectAccessible(owner);

    // The session ends elsewhere (refresh token too): the next call is a 401, the person signs in again and is back.
    const stored = await owner.evaluate(() => sessionStorage.getItem('admin-session'));
    const logout = await request(fx.srv.url, '/api/auth/logout', {
      method: 'POST',
      host: 'acme.localhost',
      token: JSON.parse(stored!).token,
    });
    expect(logout.status).toBe(200);
    await owner.getByRole('navigation').getByRole('link', { name: 'Overview' }).click();
    await owner.waitForURL(/\/admin\/sign-in\?next=%2Fadmin$/);
    await signIn(owner, acme.ownerEmail, OWNER_PASSWORD);
    await owner.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    expect(await textOf(owner.locator('.facts'))).toContain('acme Inc');
    await expectAccessible(owner);
  });

  it('shows the API refusal next to the field it names', async () => {
    await open(owner, 'Members');
    await owner.getByLabel('Email address').fill('not an address');
    await owner.getByRole('button', { name: 'Send invitation' }).click();
    expect(await textOf(owner.locator('#invite-email-error'))).toMatch(/email/i);
    expect(await owner.getByLabel('Email address').getAttribute('aria-describedby')).toContain('invite-email-error');

    await open(owner, 'Settings');
    await owner.getByLabel('Primary colour').fill('blue');
    await owner.getByRole('button', { name: 'Save' }).click();
    expect(await textOf(owner.locator('[data-field="branding.primaryColor"]'))).toBe('must be a hex colour such as #1a2b3c');
    await expectAccessible(owner);
  });

  it('previews branding with the server-sanitised CSS, allowed by the CSP', async () => {
    await owner.getByLabel('Primary colour').fill('#123456');
    await owner.getByLabel('App name').fill('Acme <b>Chat</b>');
    await owner.getByLabel('Custom CSS').fill('h1 { color: rgb(1, 2, 3) } p { background: url(javascript:alert(1)) }');
    const preview = owner.getByTestId('branding-preview');
    await vi.waitFor(async () => {
      const seen = await preview.evaluate((el) => {
        const h1 = el.shadowRoot!.querySelector('h1')!;
        return {
          colour: getComputedStyle(h1).color,
          text: h1.textContent,
          html: h1.innerHTML,
          sheet: el.shadowRoot!.adoptedStyleSheets[0]!.cssRules.length,
        };
      });
      expect(seen).toMatchObject({ colour: 'rgb(1, 2, 3)', text: 'Acme <b>Chat</b>', html: 'Acme &lt;b&gt;Chat&lt;/b&gt;' });
    }, UI_WAIT);
    const sheet = await preview.evaluate((el) => [...el.shadowRoot!.adoptedStyleSheets[0]!.cssRules].map((r) => r.cssText).join('\n'));
    expect(sheet).not.toContain('javascript');
    await owner.getByRole('button', { name: 'Save' }).click();
    expect(await textOf(owner.getByRole('status'))).toMatch(/^Saved/);
    const { rows } = await fx.db.pool.query<{ branding: Record<string, unknown> }>('select branding from public.tenants where id = $1', [
      acme.tenant.id,
    ]);
    expect(rows[0]!.branding).toMatchObject({ primaryColor: '#123456', appName: 'Acme <b>Chat</b>' });
  });

  it('invites a person who accepts in a second browser context, then changes their role', async () => {
    await open(owner, 'Members');
    await owner.getByLabel('Email address').fill('newcomer@acme.example.com');
    await owner.getByLabel('Role', { exact: true }).selectOption('admin');
    await owner.getByRole('button', { name: 'Send invitation' }).click();
    const link = await textOf(owner.getByTestId('invitation-link'));
    await owner.getByRole('cell', { name: 'newcomer@acme.example.com', exact: true }).waitFor();
    await expectAccessible(owner);

    const newcomer = await browser.page();
    await newcomer.goto(link);
    await newcomer.getByRole('heading', { level: 1, name: 'Join acme' }).waitFor();
    await expectAccessible(newcomer);
    await newcomer.getByLabel('Your name').fill('New Comer');
    await newcomer.getByLabel('Password').fill('a-fresh-password-77');
    await newcomer.getByRole('button', { name: 'Accept the invitation' }).click();
    await newcomer.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await expectAccessible(newcomer);
    const { rows } = await fx.db.pool.query<{ id: string }>('select id from public.identities where email = $1', [
      'newcomer@acme.example.com',
    ]);
    const newcomerId = rows[0]!.id;
    expect(await roleIn(fx.db, acme.tenant.id, newcomerId)).toBe('admin');

    await owner.reload();
    await owner.getByLabel('Role of newcomer@acme.example.com').selectOption('member');
    await vi.waitFor(async () => expect(await roleIn(fx.db, acme.tenant.id, newcomerId)).toBe('member'), UI_WAIT);
  });

  it('removes a member whose open page is refused on its next action', async () => {
    const carol = await makePerson(fx.db, { tenantId: acme.tenant.id, role: 'admin', label: 'carol' });
    const page = await browser.page();
    await page.goto(acmeUrl('/api-keys'));
    await signIn(page, carol.email, PERSON_PASSWORD);
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();

    await owner.goto(acmeUrl('/members'));
    await owner.getByRole('button', { name: `Remove ${carol.email}` }).click();
    await owner.locator(`tr[data-key="${carol.id}"]`).waitFor({ state: 'detached' });

    await page.getByLabel('Name').fill('after removal');
    await page.getByRole('button', { name: 'Create key' }).click();
    expect(await textOf(page.getByRole('alert'))).toBe('You are no longer a member of this tenant');
    expect(await page.getByTestId('new-api-key').count()).toBe(0);
  });

  it('creates an API key shown once, lists and revokes it', async () => {
    await open(owner, 'API keys');
    await owner.getByLabel('Name').fill('ci');
    await owner.getByRole('button', { name: 'Create key' }).click();
    const key = await textOf(owner.getByTestId('new-api-key'));
    const answer = await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, { host: 'acme.localhost', token: key });
    expect(answer.status).toBe(200);
    await owner.getByRole('button', { name: 'Revoke ci' }).click();
    await owner.getByRole('cell', { name: /^revoked/ }).waitFor();
    expect((await request(fx.srv.url, `/api/tenants/${acme.tenant.id}`, { host: 'acme.localhost', token: key })).status).toBe(401);
    await expectAccessible(owner);
  });

  it('shows the audit trail with filters and exports it', async () => {
    await open(owner, 'Audit trail');
    await owner.getByLabel('Action').fill('not valid!');
    await owner.getByRole('button', { name: 'Filter' }).click();
    expect(await textOf(owner.locator('[data-field="action"]'))).toContain('an action such as tenant.updated');
    await owner.getByLabel('Action').fill('membership.*');
    await owner.getByRole('button', { name: 'Filter' }).click();
    await vi.waitFor(async () => {
      const actions = await owner.locator('tbody tr[data-key] td:nth-child(2)').allTextContents();
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((a) => !a.startsWith('membership.'))).toEqual([]);
    }, UI_WAIT);
    const [file] = await Promise.all([owner.waitForEvent('download'), owner.getByRole('button', { name: 'Export CSV' }).click()]);
    expect(file.suggestedFilename()).toBe('audit-acme.csv');
    await expectAccessible(owner);
  });

  it('charts usage month by month against the plan limits, with the right numbers', async () => {
    const [twoAgo, lastMonth] = periodsUntil(new Date().toISOString().slice(0, 7), 3);
    await fx.db.pool.query(`update public.tenants set created_at = now() - interval '3 months' where id = $1`, [acme.tenant.id]);
    await fx.db.pool.query(
      `insert into public.tenant_usage_history (tenant_id, period, users_total, channels_total, storage_bytes, files_count)
       values ($1, $2, 3, 1, 0, 0), ($1, $3, 7, 2, 0, 0)`,
      [acme.tenant.id, twoAgo, lastMonth],
    );
    await fx.db.pool.query(
      `insert into public.tenant_api_calls (tenant_id, period, endpoint, calls) values ($1, $2, 'GET /x', 420), ($1, $3, 'GET /x', 1234)`,
      [acme.tenant.id, twoAgo, lastMonth],
    );
    await open(owner, 'Usage');
    const cell = (chart: string, month: string, series: string) =>
      owner.locator(`#usage-${chart} tr[data-x="${month}"] td[data-series="${series}"]`).getAttribute('data-value');
    await owner.locator('#usage-api_calls_month canvas').first().waitFor();
    expect(await owner.locator('#usage-api_calls_month .chart-data tbody tr').count()).toBe(12);
    expect([await cell('api_calls_month', twoAgo!, 'Used'), await cell('api_calls_month', lastMonth!, 'Used')]).toEqual(['420', '1234']);
    expect(await cell('api_calls_month', lastMonth!, 'Limit')).toBe('1000');
    expect([
      await cell('users', twoAgo!, 'Used'),
      await cell('users', lastMonth!, 'Used'),
      await cell('users', lastMonth!, 'Limit'),
    ]).toEqual(['3', '7', '10']);
    await expectAccessible(owner);
  });

  it('shows billing', async () => {
    await open(owner, 'Billing');
    expect(await textOf(owner.locator('.facts'))).toContain('free');
    await expectAccessible(owner);
  });
});
