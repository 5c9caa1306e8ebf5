import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../support/launch-chromium';
import { eventually, sleep, startTestStack, type TestStack, testConfig } from '../support/local-stack';

/**
 * Real browser tests in headless Chromium (driven by playwright-core): the demo form as a visitor uses it,
 * JavaScript submissions from an allowed and a disallowed origin, and a bot that fills the honeypot.
 * Screenshots go to test-results/screenshots. The browser comes from the run's global set-up
 * (test/support/browser-setup.ts): found, installed, or a reason these tests skip (never under CI).
 */

const SCREENSHOTS = 'test-results/screenshots';
// Page-side expressions are strings: they run in the browser, whose DOM types this project does not load.
const RESULT_SHOWN = "document.getElementById('result').textContent !== 'not sent'";

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A visitor's website on its own origin, whose page submits to Postroom with fetch. */
async function startSite(apiUrl: () => string): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><body>
<h1>Another website</h1>
<button id="json">Send as JSON</button> <button id="urlencoded">Send as a simple request</button>
<pre id="result">not sent</pre>
<script>
const show = (text) => { document.getElementById('result').textContent = text; };
async function send(kind) {
  const marker = new URLSearchParams(location.search).get('marker');
  const fields = { name: 'Fetch Visitor', email: 'fetch@example.org', message: 'Sent with fetch ' + marker };
  const init = kind === 'json'
    ? { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) }
    : { method: 'POST', body: new URLSearchParams(fields) };
  try {
    const response = await fetch(${JSON.stringify(`${apiUrl()}/v1/forms/contact`)}, init);
    show('status ' + response.status + ' ' + await response.text());
  } catch (error) {
    show('blocked: ' + error.name);
  }
}
document.getElementById('json').onclick = () => send('json');
document.getElementById('urlencoded').onclick = () => send('urlencoded');
</script></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe.skipIf(CHROMIUM.status === 'skip')('Browser: forms in headless Chromium', () => {
  let stack: TestStack;
  let browser: Browser;
  let allowedSite: { origin: string; server: Server };
  let otherSite: { origin: string; server: Server };
  let page: Page;

  beforeAll(async () => {
    if (CHROMIUM.status !== 'ready') throw new Error(CHROMIUM.reason);
    mkdirSync(SCREENSHOTS, { recursive: true });
    allowedSite = await startSite(() => stack.apiUrl);
    otherSite = await startSite(() => stack.apiUrl);
    // The demo page is served by the API server itself, so its origin must be known before the stack starts.
    const apiPort = await freePort();
    const apiOrigin = `http://127.0.0.1:${apiPort}`;
    const config = testConfig({
      forms: [
        {
          id: 'contact',
          recipients: ['owner@example.com'],
          subject: 'New message from {{name}}',
          allowedOrigins: [apiOrigin, allowedSite.origin],
          redirectUrl: `${apiOrigin}/thanks`,
        },
      ],
    });
    stack = await startTestStack(config, { ports: { api: apiPort } });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    allowedSite?.server.close();
    otherSite?.server.close();
  });

  afterEach(async () => {
    await page?.close();
  });

  const refusals = () =>
    stack.log.entries.filter((e) => e.attributes.outcome === 'rejected' && e.attributes.status === 403)
      .length;
  const mailWith = async (marker: string) =>
    (await stack.sesEmails()).filter((email) => email.body.text?.includes(marker));

  it('submits the demo page as a plain HTML form and lands on the thank-you page', async () => {
    const marker = randomUUID();
    page = await browser.newPage();
    await page.goto(`${stack.apiUrl}/`);

    await page.fill('#name', 'Browser Visitor');
    await page.fill('#email', 'browser@example.org');
    await page.fill('#message', `Typed in Chromium ${marker}`);
    await Promise.all([page.waitForURL(`${stack.apiUrl}/thanks`), page.click('button[type=submit]')]);

    expect(await page.textContent('h1')).toBe('Thank you');
    await page.screenshot({ path: `${SCREENSHOTS}/demo-form-thank-you.png` });
    const [email] = await eventually(async () => {
      const found = await mailWith(marker);
      return found.length > 0 ? found : undefined;
    });
    expect(email?.replyTo).toEqual(['browser@example.org']);
    expect(email?.subject).toBe('New message from Browser Visitor');
  });

  it('accepts a JSON fetch from an allowed origin on another port', async () => {
    const marker = randomUUID();
    page = await browser.newPage();
    await page.goto(`${allowedSite.origin}/?marker=${marker}`);

    await page.click('#json');

    await page.waitForFunction(RESULT_SHOWN);
    expect(await page.textContent('#result')).toMatch(/^status 202 \{"id":"[0-9a-f-]{36}"\}$/);
    await page.screenshot({ path: `${SCREENSHOTS}/fetch-allowed-origin.png` });
    await eventually(async () => ((await mailWith(marker)).length === 1 ? true : undefined));
  });

  it('blocks a JSON fetch from a disallowed origin at the preflight, and sends nothing', async () => {
    const marker = randomUUID();
    page = await browser.newPage();
    await page.goto(`${otherSite.origin}/?marker=${marker}`);

    await page.click('#json');

    await page.waitForFunction(RESULT_SHOWN);
    expect(await page.textContent('#result')).toBe('blocked: TypeError');
    await page.screenshot({ path: `${SCREENSHOTS}/fetch-disallowed-origin.png` });
    await sleep(500);
    expect(await mailWith(marker)).toEqual([]);
    expect(await stack.depth(stack.resources.queueUrl)).toBe(0);
  });

  it('refuses a simple (no preflight) request from a disallowed origin, and sends nothing', async () => {
    const marker = randomUUID();
    page = await browser.newPage();
    const refusedBefore = refusals();
    await page.goto(`${otherSite.origin}/?marker=${marker}`);

    await page.click('#urlencoded');

    await page.waitForFunction(RESULT_SHOWN);
    // The server refused it (403), and the browser hides even that answer from the page.
    expect(refusals()).toBe(refusedBefore + 1);
    expect(await page.textContent('#result')).toBe('blocked: TypeError');
    await sleep(500);
    expect(await mailWith(marker)).toEqual([]);
    expect(await stack.depth(stack.resources.queueUrl)).toBe(0);
  });

  it('shows a bot that fills the honeypot the thank-you page and sends nothing', async () => {
    const marker = randomUUID();
    page = await browser.newPage();
    await page.goto(`${stack.apiUrl}/`);

    // A bot fills every field it finds, the hidden one included.
    await page.fill('#email', 'bot@example.org');
    await page.fill('#message', `Buy now ${marker}`);
    await page.evaluate("document.getElementById('_gotcha').value = 'http://spam.example'");
    await Promise.all([page.waitForURL(`${stack.apiUrl}/thanks`), page.click('button[type=submit]')]);

    expect(await page.textContent('h1')).toBe('Thank you');
    await page.screenshot({ path: `${SCREENSHOTS}/honeypot-bot.png` });
    await sleep(1_000);
    expect(await mailWith(marker)).toEqual([]);
    expect(await stack.depth(stack.resources.queueUrl)).toBe(0);
  });
});
