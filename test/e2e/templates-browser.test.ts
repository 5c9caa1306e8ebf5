import { mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHROMIUM_ARGS } from '../support/browser';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';

/**
 * The shipped templates in headless Chromium: the local templates page, and each template's HTML at phone and
 * desktop widths, light and dark. Screenshots go to test-results/screenshots/templates-*.png.
 */

const CHROMIUM = inject('chromium') ?? {
  status: 'fail',
  reason:
    'the browser set-up did not run: vitest.config.ts lists test/support/browser-setup.ts in globalSetup',
};
const SCREENSHOTS = 'test-results/screenshots';
const SHIPPED = ['form-autoresponse', 'form-notification', 'password-reset', 'receipt', 'welcome'];

describe.skipIf(CHROMIUM.status === 'skip')('Browser: the templates page and the shipped templates', () => {
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

  it('shows each template rendered with its preview data: subject, HTML frame, text', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(`${stack.apiUrl}/templates`);
      for (const id of SHIPPED) {
        const section = page.locator(`section#${id}`);
        await expect(section.locator('h2').textContent()).resolves.toMatch(new RegExp(`^${id}@[0-9a-f]{7}$`));
        const frame = page.frameLocator(`section#${id} iframe`);
        if (id === 'form-autoresponse') {
          // It holds only configured text, never the visitor's.
          expect(await section.locator('pre.text').textContent()).toContain('We answer every message');
          expect(await frame.locator('h1').textContent()).toBe('We received your message');
          continue;
        }
        expect(await section.locator('pre.text').textContent()).toContain('Ada Lovelace');
        expect(await frame.locator('h1').textContent()).toMatch(/Ada Lovelace|Reset your password/);
      }
      await page.screenshot({ path: `${SCREENSHOTS}/templates-page.png`, fullPage: true });
    } finally {
      await page.close();
    }
  });

  for (const id of SHIPPED) {
    it(`${id} fits a phone without scrolling sideways, in light and dark`, async () => {
      const response = await fetch(`${stack.apiUrl}/templates`);
      expect(response.status).toBe(200);
      // The rendered HTML, through the render endpoint's code path on the page: take it from the frame.
      const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
      try {
        await page.goto(`${stack.apiUrl}/templates`);
        const html = await page.locator(`section#${id} iframe`).getAttribute('srcdoc');
        expect(html).toBeTruthy();
        for (const [width, name] of [
          [375, 'phone'],
          [800, 'desktop'],
        ] as const) {
          for (const scheme of ['light', 'dark'] as const) {
            await page.setViewportSize({ width, height: 800 });
            await page.emulateMedia({ colorScheme: scheme });
            await page.setContent(html ?? '');
            const overflow = await page.evaluate('document.documentElement.scrollWidth - window.innerWidth');
            expect(overflow, `${id} at ${width}px`).toBeLessThanOrEqual(0);
            const background = await page.evaluate(
              "getComputedStyle(document.querySelector('.card')).backgroundColor",
            );
            expect(background).toBe(scheme === 'dark' ? 'rgb(22, 27, 34)' : 'rgb(255, 255, 255)');
            if (id === 'form-notification') {
              // Every field readable: each label over its value, the multi-line message keeping its lines.
              const fields = await page.evaluate(`[...document.querySelectorAll('.field')].map((field) => ({
                label: field.querySelector('.label').textContent,
                lines: field.querySelector('.value').getClientRects()[0].height / 24,
                fits: field.scrollWidth <= field.clientWidth,
              }))`);
              expect(fields).toEqual([
                { label: 'Name', lines: 1, fits: true },
                { label: 'Email', lines: 1, fits: true },
                { label: 'Company', lines: 1, fits: true },
                { label: 'Phone', lines: 1, fits: true },
                { label: 'Message', lines: width === 375 ? 8 : 6, fits: true },
              ]);
              const label = await page.evaluate("getComputedStyle(document.querySelector('.label')).color");
              expect(label).toBe(scheme === 'dark' ? 'rgb(145, 152, 161)' : 'rgb(89, 99, 110)');
            }
            await page.screenshot({
              path: `${SCREENSHOTS}/templates-${id}-${name}-${scheme}.png`,
              fullPage: true,
            });
          }
        }
      } finally {
        await page.close();
      }
    });
  }
});
