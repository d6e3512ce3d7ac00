// The admin portal's tenant face in a real browser: sign-in, members and
// invitations, roles, removal, the usage chart; CSP and accessibility on the way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, startTestServer, type TestDb } from '../support/db.ts';
import { makeTenant, OWNER_PASSWORD, type MadeTenant } from '../support/factories.ts';
import { expectAccessible, textOf, useBrowser } from '../support/browser.ts';
import type { RunningServer } from '../../actions-server/src/server.ts';
import type { Page } from 'playwright-core';

let db: TestDb;
let srv: RunningServer;
let acme: MadeTenant;
const browser = useBrowser();

beforeAll(async () => {
  db = await createTestDb();
  // Chromium resolves every *.localhost name to 127.0.0.1: tenant hosts need no DNS.
  srv = await startTestServer(db, { BASE_DOMAIN: 'localhost' });
  acme = await makeTenant(db, 'acme');
});
afterAll(async () => {
  await srv?.close();
  await db?.close();
});

const acmeUrl = (path: string) => `http://acme.localhost:${new URL(srv.url).port}/admin${path}`;

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

describe('tenant face', () => {
  it('sends a visitor to sign-in and back to the page asked for', async () => {
    const page = await browser.page();
    await page.goto(acmeUrl('/'));
    await page.waitForURL(/\/admin\/sign-in\?next=/);
    await expectAccessible(page);
    await signIn(page, acme.ownerEmail, 'wrong password');
    expect(await textOf(page.getByRole('alert'))).toBe('Wrong email or password');
    await signIn(page, acme.ownerEmail, OWNER_PASSWORD);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/admin/');
    expect(await textOf(page.locator('.facts'))).toContain('acme Inc');
    await expectAccessible(page);
  });
});
