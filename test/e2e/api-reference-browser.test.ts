import { mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHROMIUM_ARGS } from '../support/browser';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';

/**
 * The API reference page the local stack serves at /reference, rendered from openapi.json, in headless
 * Chromium with every request that leaves the local stack refused: it must read offline. Screenshot:
 * test-results/screenshots/api-reference.png.
 */

const CHROMIUM = inject('chromium') ?? {
  status: 'fail',
  reason:
    'the browser set-up did not run: vitest.config.ts lists test/support/browser-setup.ts in globalSetup',
};
const SCREENSHOTS = 'test-results/screenshots';

describe.skipIf(CHROMIUM.status === 'skip')('Browser: the API reference page', () => {
  let stack: TestStack;
  let browser: Browser;

  beforeAll(async () => {
    if (CHROMIUM.status !== 'ready') throw new Error(CHROMIUM.reason);
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await startTestStack(testConfig());
    browser = await chromium.launch({
      executablePath: CHROMIUM.executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('shows every operation of the document, its statuses and examples, with nothing fetched from elsewhere', async () => {
    // Prepare
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const elsewhere: string[] = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(stack.apiUrl)) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    const document = (await (await fetch(`${stack.apiUrl}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const operationIds = Object.values(document.paths).flatMap((item) =>
      Object.values(item).map((operation) => operation.operationId),
    );

    try {
      // Act
      const response = await page.goto(`${stack.apiUrl}/reference`);

      // Assess
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe('Postroom HTTP API reference');
      for (const id of operationIds) {
        await expect(page.locator(`section#${id} h2`).count()).resolves.toBe(1);
      }
      const send = page.locator('section#sendEmail');
      expect(await send.locator('h2').textContent()).toContain('POST /v1/send');
      expect(await send.locator('summary').allTextContents()).toEqual(
        expect.arrayContaining([expect.stringMatching(/^422 /), expect.stringMatching(/^409 /)]),
      );
      expect(await send.locator('table.fields').first().textContent()).toContain('scheduledAt');
      expect(await send.locator('h2 .badge').textContent()).toBe('API key: send');
      expect(await page.locator('section#listSubmissions h2 .badge').textContent()).toBe(
        'API key: submissions:read or submissions:read:{formId}',
      );
      expect(await page.locator('section#receiveWebhook h2').textContent()).toContain('webhook: event');
      await send
        .locator('details')
        .first()
        .evaluate((details) => details.setAttribute('open', ''));
      await page.screenshot({ path: `${SCREENSHOTS}/api-reference.png`, fullPage: false });
      await send.scrollIntoViewIfNeeded();
      await page.screenshot({ path: `${SCREENSHOTS}/api-reference-send.png`, fullPage: false });
      expect(elsewhere).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
