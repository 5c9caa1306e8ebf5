import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../support/launch-chromium';
import { eventually } from '../support/local-stack';

/**
 * The first hour with Postroom, as a newcomer lives it: `npm start` on ports other than the 3000 the
 * configuration names, the demo form in a real browser, a refused post seen without JavaScript, and a key
 * that must survive the restart every configuration change needs. The configuration is a fixture whose
 * form lists only port 3000, as the shipped one does. Screenshots go to test-results/screenshots.
 */

const CONFIG = 'test/fixtures/default-port-demo.cdk.json';
const SCREENSHOTS = 'test-results/screenshots';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * `npm start` (package.json: Node with tsx's loader) with the given environment on top of the test's own,
 * less the SDK switch the test runner may have set: the local runner must set it itself.
 */
function start(env: Record<string, string>): Run {
  const inherited = { ...process.env };
  delete inherited.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function ready(run: Run): Promise<string> {
  return eventually(
    async () => {
      if (run.child.exitCode !== null) throw new Error(`npm start exited:\n${run.output()}`);
      return run.output().includes('Press Ctrl-C to stop.') ? run.output() : undefined;
    },
    60_000,
    'the banner',
  );
}

async function stop(run: Run): Promise<void> {
  run.child.kill('SIGINT');
  expect(await run.exited).toBe(0);
}

/** Another website whose contact page is a plain HTML form (no JavaScript) posting to Postroom. */
async function startPlainSite(action: string): Promise<{ origin: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><title>Another site</title><body>
<h1>Write to us</h1>
<form method="post" action="${action}">
<input name="email" value="visitor@example.org"><textarea name="message">Hello from elsewhere</textarea>
<button type="submit">Send</button></form></body></html>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe.skipIf(CHROMIUM.status === 'skip')(
  'npm start on ports other than 3000: the demo form in Chromium, errors without JavaScript, state kept',
  () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'postroom-first-run-'));
    let browser: Browser;
    let page: Page | undefined;
    let run: Run;
    let banner: string;
    let env: Record<string, string>;
    let apiUrl: string;
    let sesUrl: string;

    beforeAll(async () => {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const [api, ses, sqs, dynamodb] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      env = {
        POSTROOM_CONFIG_FILE: CONFIG,
        POSTROOM_STATE_DIR: stateDir,
        POSTROOM_API_PORT: String(api),
        POSTROOM_SES_PORT: String(ses),
        POSTROOM_SQS_PORT: String(sqs),
        POSTROOM_DYNAMODB_PORT: String(dynamodb),
        POWERTOOLS_LOG_LEVEL: 'INFO',
      };
      apiUrl = `http://127.0.0.1:${api}`;
      sesUrl = `http://127.0.0.1:${ses}`;
      browser = await launchChromium();
      run = start(env);
      banner = await ready(run);
    }, 120_000);

    afterEach(async () => {
      await page?.close();
      page = undefined;
    });

    afterAll(async () => {
      await browser?.close();
      if (run?.child.exitCode === null) run.child.kill('SIGKILL');
      rmSync(stateDir, { recursive: true, force: true });
    });

    const mailWith = async (marker: string) => {
      const store = (await (await fetch(`${sesUrl}/store`)).json()) as {
        emails: Array<{ subject: string; body: { text?: string } }>;
      };
      return store.emails.filter((email) => email.body.text?.includes(marker));
    };

    it('starts with a clean banner that says which origins, thank-you page and limits each form has', () => {
      const port = env.POSTROOM_API_PORT;
      expect(banner).not.toContain('NodeVersionSupportWarning');
      expect(banner.trimStart().startsWith('Postroom is running locally.')).toBe(true);
      expect(banner).toContain(
        `accepts browser posts from  http://localhost:3000, http://127.0.0.1:3000; and, for the demo page this run, http://127.0.0.1:${port}, http://localhost:${port}`,
      );
      expect(banner).toContain(`the demo page asks for http://127.0.0.1:${port}/thanks`);
      expect(banner).toContain('rate limits                 5 per IP per 10 minutes, 500 per form per hour');
      expect(banner).toContain(`State kept in      ${stateDir}`);
    });

    it.each([
      ['127.0.0.1', 'demo-form-other-port'],
      ['localhost', 'demo-form-localhost-other-port'],
    ])(
      'takes the demo form on %s to the thank-you page on the same port',
      async (host, shot) => {
        // Prepare
        const origin = `http://${host}:${env.POSTROOM_API_PORT}`;
        const marker = randomUUID();
        page = await browser.newPage();
        await page.goto(`${origin}/`);

        // Act
        await page.fill('#name', 'Port Visitor');
        await page.fill('#email', 'port@example.org');
        await page.fill('#message', `Sent from another port ${marker}`);
        await Promise.all([page.waitForURL(`${origin}/thanks`), page.click('button[type=submit]')]);

        // Assess
        expect(await page.textContent('h1')).toBe('Thank you');
        await page.screenshot({ path: `${SCREENSHOTS}/${shot}.png` });
        const [mail] = await eventually(async () => {
          const found = await mailWith(marker);
          return found.length > 0 ? found : undefined;
        });
        expect(mail?.subject).toBe('New message from Port Visitor');
      },
      60_000,
    );

    it('shows a visitor without JavaScript what was wrong, field by field, and the way back', async () => {
      // Prepare: more links than the form allows
      page = await browser.newPage();
      await page.goto(`${apiUrl}/`);
      await page.fill('#email', 'links@example.org');
      await page.fill('#message', 'http://a.example http://b.example http://c.example http://d.example');

      // Act
      const [response] = await Promise.all([
        page.waitForResponse((answer) => answer.url().endsWith('/v1/forms/contact')),
        page.click('button[type=submit]'),
      ]);
      await page.waitForLoadState();

      // Assess
      expect(response.status()).toBe(422);
      expect(await page.textContent('h1')).toBe('Your message was not sent');
      expect(await page.locator('li').allTextContents()).toEqual(['Message must contain at most 3 links.']);
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      await page.screenshot({ path: `${SCREENSHOTS}/error-page-422.png` });
      await Promise.all([page.waitForURL(`${apiUrl}/`), page.click('text=Back to the form')]);
      expect(await page.textContent('h1')).toBe('Contact us');
    }, 60_000);

    it('tells a plain form on a site the form does not list why it was refused, and logs the origin', async () => {
      // Prepare
      const site = await startPlainSite(`${apiUrl}/v1/forms/contact`);
      try {
        page = await browser.newPage();
        await page.goto(`${site.origin}/`);

        // Act
        await Promise.all([page.waitForURL(`${apiUrl}/v1/forms/contact`), page.click('button[type=submit]')]);

        // Assess
        expect(await page.textContent('h1')).toBe('Your message was not sent');
        expect(await page.textContent('main')).toContain('does not accept submissions from this origin');
        expect(await page.locator('a').count()).toBe(0);
        await page.screenshot({ path: `${SCREENSHOTS}/error-page-403-origin.png` });
        await eventually(async () => (run.output().includes(`"origin":"${site.origin}"`) ? true : undefined));
      } finally {
        site.server.close();
      }
    }, 60_000);

    it('keeps a key made with `postroom keys create` across a restart; POSTROOM_LOCAL_RATE_LIMITS=off lifts the limits', async () => {
      // Prepare: a key, made as the README says, against the running stack
      const created = await promisify(execFile)(
        'node',
        ['bin/postroom.mjs', 'keys', 'create', '--name', 'e2e'],
        {
          env: { ...process.env, ...env },
        },
      );
      const key = /^pr_\S+$/m.exec(created.stdout)?.[0] ?? '';
      expect(key).not.toBe('');

      // Act: the restart a configuration change needs, this time with the limits lifted
      await stop(run);
      run = start({ ...env, POSTROOM_LOCAL_RATE_LIMITS: 'off' });
      const restarted = await ready(run);

      // Assess
      expect(restarted).toContain(
        'rate limits                 off for this run (POSTROOM_LOCAL_RATE_LIMITS=off)',
      );
      const sent = await fetch(`${apiUrl}/v1/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          from: 'Postroom <no-reply@example.com>',
          to: 'customer@example.org',
          subject: 'After a restart',
          text: 'The key survived.',
        }),
      });
      expect(sent.status).toBe(202);
      // Earlier tests used 3 of the 5 posts the per-IP limit allows, and the count was kept: on, the 3rd would be refused.
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await fetch(`${apiUrl}/v1/forms/contact`, {
          method: 'POST',
          body: new URLSearchParams({ email: 'many@example.org', message: `Post ${i} ${randomUUID()}` }),
          redirect: 'manual',
        });
        statuses.push(response.status);
      }
      expect(statuses).toEqual([303, 303, 303, 303, 303, 303]);
      await stop(run);
    }, 180_000);
  },
);
