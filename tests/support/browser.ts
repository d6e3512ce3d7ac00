// A real browser for the admin portal's tests: the Chromium that
// @sparticuz/chromium carries (nothing downloaded), driven by playwright-core.
// One browser per test file; a context per person; every open page is
// screenshotted when a test fails; a script error or a CSP refusal in any page
// fails the test; axe-core checks what a page shows.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import chromium from '@sparticuz/chromium';
import axe from 'axe-core';
import { chromium as playwright, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { Locator } from 'playwright-core';

/** Git-ignored; a failed test leaves one picture per open page here. */
export const SCREENSHOT_DIR = path.resolve(import.meta.dirname, '../../test-results/screenshots');

/**
 * Its own flags, less the two that weaken what these tests check (same-origin
 * rules and mixed content); no sandbox as root; no traffic of its own.
 */
function launchArgs(): string[] {
  const weakening = new Set(['--disable-web-security', '--allow-running-insecure-content']);
  return [
    ...chromium.args.filter((a) => !weakening.has(a)),
    '--no-sandbox',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--metrics-recording-only',
    '--no-first-run',
  ];
}

export interface BrowserHarness {
  /** A fresh context (cookies, storage: one person); closed with the browser. */
  context(): Promise<BrowserContext>;
  /** A page in a fresh context. */
  page(): Promise<Page>;
}

/** Registers the file's hooks: launch before all, close after all, screenshots on failure. */
export function useBrowser(): BrowserHarness {
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  let problems: string[] = [];
  beforeAll(async () => {
    browser = await playwright.launch({ executablePath: await chromium.executablePath(), args: launchArgs(), headless: true });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(() => {
    const seen = problems;
    problems = [];
    expect(seen, 'script errors or Content-Security-Policy refusals in the pages').toEqual([]);
  });
  beforeEach((test) => {
    test.onTestFailed(async () => {
      await mkdir(SCREENSHOT_DIR, { recursive: true });
      const name = test.task.name.replace(/[^\w-]+/g, '-').slice(0, 80);
      const pages = contexts.flatMap((c) => c.pages());
      await Promise.all(
        pages.map((p, i) => p.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}-${i}.png`), fullPage: true }).catch(() => undefined)),
      );
    });
  });
  const context = async () => {
    if (!browser) throw new Error('the browser starts in beforeAll');
    // A fixed locale: the process's own (e.g. en-US@posix from LANG) is not a valid language tag for Intl.
    const c = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' });
    // Short: a page that does not answer in this time is a failure worth a screenshot, not a wait.
    c.setDefaultTimeout(10_000);
    c.on('weberror', (e) => problems.push(`${e.page()?.url() ?? ''}: ${e.error().message}`));
    c.on('console', (m) => {
      if (m.type() === 'error' && m.text().includes('Content Security Policy')) problems.push(m.text());
    });
    contexts.push(c);
    return c;
  };
  return { context, page: async () => (await context()).newPage() };
}

/**
 * axe-core in the page (evaluated, since the page's CSP refuses injected
 * script tags): no serious or critical violation of what is on screen now.
 */
export async function expectAccessible(page: Page): Promise<void> {
  const loaded = await page.evaluate(() => 'axe' in window);
  if (!loaded) await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: typeof axe }).axe.run(document);
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  expect(violations, `accessibility violations on ${page.url()}`).toEqual([]);
}

/** The text of the first element matching, once it is there. */
export async function textOf(locator: Locator): Promise<string> {
  await locator.first().waitFor();
  return (await locator.first().textContent()) ?? '';
}
