import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HONEYPOT_FIELD } from '../../functions/core/forms/form-submission';
import { CHROMIUM_ARGS } from '../support/browser';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { MULTIPART_BOUNDARY, multipartBody } from '../support/multipart';

/**
 * The local submissions page in headless Chromium: a form's inbox and spam folder, a submission's fields and
 * file, and "Not spam", which sends the notification once. Screenshots go to test-results/screenshots/submissions-*.png.
 */

const CHROMIUM = inject('chromium') ?? {
  status: 'fail',
  reason:
    'the browser set-up did not run: vitest.config.ts lists test/support/browser-setup.ts in globalSetup',
};
const SCREENSHOTS = 'test-results/screenshots';

describe.skipIf(CHROMIUM.status === 'skip')('Browser: the local submissions page', () => {
  let stack: TestStack;
  let browser: Browser;

  beforeAll(async () => {
    if (CHROMIUM.status !== 'ready') throw new Error(CHROMIUM.reason);
    mkdirSync(SCREENSHOTS, { recursive: true });
    stack = await startTestStack(
      testConfig({
        forms: [
          {
            id: 'contact',
            recipients: ['owner@example.com'],
            subject: 'New message',
            archive: { storeFiles: true },
            content: { blockedWords: ['casino'] },
            files: { allowedTypes: ['text/plain'] },
          },
        ],
      }),
    );
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

  const submit = async (fields: Record<string, string>) => {
    const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fields),
    });
    return ((await response.json()) as { id: string }).id;
  };

  it('lists the inbox and shows a submission with its fields and file, escaped', async () => {
    const body = multipartBody([
      { name: 'email', value: 'ada@example.org' },
      { name: 'name', value: 'Ada <b>Lovelace</b>' },
      { name: 'message', value: 'Could we talk about the engine?\nThursday suits me.' },
      {
        name: 'notes',
        filename: 'notes.txt',
        contentType: 'text/plain',
        content: Buffer.from('Notes on the engine'),
      },
    ]);
    const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${MULTIPART_BOUNDARY}`,
        accept: 'application/json',
      },
      body,
    });
    const { id } = (await response.json()) as { id: string };
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    try {
      await page.goto(`${stack.apiUrl}/submissions`);
      expect(await page.locator('h1').textContent()).toBe('Submissions · contact · inbox');
      expect(await page.locator('tbody tr').count()).toBe(1);
      await page.screenshot({ path: `${SCREENSHOTS}/submissions-inbox.png`, fullPage: true });

      await page.locator('tbody a').first().click();
      expect(page.url()).toBe(`${stack.apiUrl}/submissions/${id}`);
      // The visitor's markup is text, not HTML.
      expect(await page.locator('dd').nth(1).textContent()).toBe('Ada <b>Lovelace</b>');
      expect(await page.locator('dd b').count()).toBe(0);
      const download = page.waitForEvent('download');
      await page.locator('a', { hasText: 'notes.txt' }).click();
      const file = await download;
      expect(file.suggestedFilename()).toBe('notes.txt');
      await page.screenshot({ path: `${SCREENSHOTS}/submissions-detail.png`, fullPage: true });
    } finally {
      await page.close();
    }
  });

  it('shows the spam folder and releases a submission with "Not spam", sending its notification once', async () => {
    const marker = randomUUID();
    const id = await submit({ email: 'grace@example.org', message: `Casino night booking ${marker}` });
    await submit({ email: 'bot@example.net', message: 'Buy now', [HONEYPOT_FIELD]: 'filled' });
    const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    try {
      await page.goto(`${stack.apiUrl}/submissions?form=contact&status=spam`);
      expect(await page.locator('tbody tr').count()).toBe(2);
      expect(await page.locator('tbody').textContent()).toContain('blocked-word');
      await page.screenshot({ path: `${SCREENSHOTS}/submissions-spam.png`, fullPage: true });

      await page.goto(`${stack.apiUrl}/submissions/${id}`);
      await page.locator('button', { hasText: 'Not spam' }).click();
      await page.waitForSelector('.notice');
      expect(await page.locator('.notice').textContent()).toBe(
        'Moved to the inbox; the notification was sent.',
      );
      expect(await page.locator('button').count()).toBe(0);
      await page.screenshot({ path: `${SCREENSHOTS}/submissions-released.png`, fullPage: true });

      const delivered = await eventually(
        async () => {
          const mails = (await stack.sesEmails()).filter((mail) => mail.body.text?.includes(marker));
          return mails.length > 0 ? mails : undefined;
        },
        5_000,
        marker,
      );
      await stack.drained(stack.resources.queueUrl);
      expect(delivered).toHaveLength(1);
      expect((await stack.sesEmails()).filter((mail) => mail.body.text?.includes(marker))).toHaveLength(1);
    } finally {
      await page.close();
    }
  });

  it('refuses "Not spam" posted without the page\'s token (another site in the same browser)', async () => {
    const id = await submit({ email: 'x@example.org', message: 'casino' });
    const response = await fetch(`${stack.apiUrl}/submissions/${id}/not-spam`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=guess',
    });
    expect(response.status).toBe(403);
  });
});
