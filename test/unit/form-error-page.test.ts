import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/config';
import { wantsHtml } from '../../functions/core/forms/error-page';
import { preflightForm, type SubmitFormDeps, submitForm } from '../../functions/core/forms/submit-form';
import type { HttpRequest, HttpResponse } from '../../functions/core/http';
import {
  FakeClock,
  MemoryGuardStore,
  MemoryMailQueue,
  RecordingLog,
  RecordingMetrics,
  sequentialIds,
} from '../fakes/ports';
import { shippedCatalog } from '../support/templates';

const SITE = 'https://www.example.com';
// What Chromium sends when it navigates to a form's action.
const BROWSER_ACCEPT =
  'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8';

const FORM = {
  id: 'contact',
  recipients: ['owner@example.com'],
  subject: 'Message from {{name}}',
  allowedOrigins: [SITE],
  redirectUrl: `${SITE}/thanks`,
  content: { maxLinks: 1 },
};

function setup(form: Record<string, unknown> = {}) {
  return {
    config: parseConfig({ sender: 'Postroom <no-reply@example.com>', forms: [{ ...FORM, ...form }] }),
    queue: new MemoryMailQueue(),
    clock: new FakeClock(Date.UTC(2025, 0, 15, 12, 0, 0)),
    newId: sequentialIds('1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f'),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    guards: new MemoryGuardStore(),
    templates: shippedCatalog,
  } satisfies SubmitFormDeps;
}

/** A plain HTML form post as a browser sends it from the site's contact page. */
function browserPost(fields: Record<string, string>, headers: Record<string, string> = {}): HttpRequest {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: BROWSER_ACCEPT,
      origin: SITE,
      referer: `${SITE}/contact?lang=en`,
      ...headers,
    },
    body: Buffer.from(new URLSearchParams(fields).toString()),
    sourceIp: '203.0.113.7',
  };
}

function expectHtmlPage(response: HttpResponse, status: number): string {
  expect(response.status).toBe(status);
  expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
  expect(response.headers['content-security-policy']).toContain("default-src 'none'");
  const html = response.body;
  expect(html).toMatch(/^<!doctype html>\n<html lang="en">/);
  expect(html).toMatch(/<title>[^<]+<\/title>/);
  expect(html).toContain('<h1>Your message was not sent</h1>');
  expect(html).not.toMatch(/<script/i);
  return html;
}

describe('Core: content negotiation for refused form posts', () => {
  it.each([
    ['a browser navigation', BROWSER_ACCEPT, 'application/x-www-form-urlencoded', true],
    ['a multipart browser post', BROWSER_ACCEPT, 'multipart/form-data; boundary=x', true],
    ['fetch() with its default Accept', '*/*', 'application/x-www-form-urlencoded', false],
    ['no Accept header', undefined, 'application/x-www-form-urlencoded', false],
    ['a client asking for JSON', 'application/json', 'application/x-www-form-urlencoded', false],
    ['a client ranking JSON above HTML', 'text/html;q=0.5, application/json', 'text/plain', false],
    ['a client refusing HTML', 'text/html;q=0, */*', 'application/x-www-form-urlencoded', false],
    ['a JSON body, whatever it accepts', BROWSER_ACCEPT, 'application/json', false],
  ])('%s (Accept: %s, body: %s) gets HTML: %s', (_, accept, contentType, expected) => {
    expect(wantsHtml({ accept, 'content-type': contentType })).toBe(expected);
  });
});

describe('Core: HTML error pages for visitors without JavaScript', () => {
  it('lists each invalid field in words and links back to the page the visitor came from', async () => {
    // Prepare
    const deps = setup();

    // Act
    const response = await submitForm('contact', browserPost({ email: '', message: '' }), deps);

    // Assess
    const html = expectHtmlPage(response, 422);
    expect(html).toContain('<li>Email must be an email address.</li>');
    expect(html).toContain('<li>Message is required.</li>');
    expect(html).toContain(`<a href="${SITE}/contact?lang=en">Back to the form</a>`);
    expect(response.headers['access-control-allow-origin']).toBe(SITE);
    expect(deps.queue.jobs).toEqual([]);
  });

  it('escapes hostile field names and never links to a Referer from another site', async () => {
    // Prepare: a field name that is markup, posted from a page the form does not list
    const deps = setup();
    const hostile = '"><script>alert(1)</script>';

    // Act
    const response = await submitForm(
      'contact',
      browserPost(
        { email: 'visitor@example.org', message: 'Hi', [hostile]: 'x' },
        { referer: 'https://evil.example/phish' },
      ),
      deps,
    );

    // Assess
    const html = expectHtmlPage(response, 422);
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('evil.example');
    // The Origin header is the allowed site, so the link goes to that site's home page.
    expect(html).toContain(`<a href="${SITE}/">Back to the form</a>`);
  });

  it('offers no link at all when neither Referer nor Origin is an allowed origin', async () => {
    const deps = setup({ allowedOrigins: ['https://other.example'] });

    const response = await submitForm(
      'contact',
      browserPost({ email: 'visitor@example.org', message: 'Hi' }),
      deps,
    );

    const html = expectHtmlPage(response, 403);
    expect(html).toContain(
      `This form does not accept submissions from this origin. (It was sent from ${SITE}.)`,
    );
    expect(html).not.toContain('<a ');
    expect(html).toContain('Back button');
  });

  it('says when to try again after a rate limit, and keeps Retry-After', async () => {
    const deps = setup({ rateLimit: { perIp: { max: 1, windowSeconds: 600 } } });
    await submitForm('contact', browserPost({ email: 'visitor@example.org', message: 'One' }), deps);

    const response = await submitForm(
      'contact',
      browserPost({ email: 'visitor@example.org', message: 'Two' }),
      deps,
    );

    const html = expectHtmlPage(response, 429);
    expect(response.headers['retry-after']).toBe('600');
    expect(html).toContain('Please try again in 10 minutes.');
  });

  it('answers a service failure with a page too (503)', async () => {
    const deps = setup();
    deps.queue.enqueueError = new Error('queue down');

    const response = await submitForm(
      'contact',
      browserPost({ email: 'visitor@example.org', message: 'Hi' }),
      deps,
    );

    const html = expectHtmlPage(response, 503);
    expect(html).toContain('Please try again in 5 seconds.');
  });

  it('keeps problem+json for fetch() and for JSON clients', async () => {
    const deps = setup();

    const fetched = await submitForm(
      'contact',
      browserPost({ email: '', message: '' }, { accept: '*/*' }),
      deps,
    );

    expect(fetched.status).toBe(422);
    expect(fetched.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(fetched.body).errors).toContainEqual({ field: 'message', detail: 'is required' });
  });

  it("sends the browser to the form's error page with the reason and the fields (303)", async () => {
    const deps = setup({ errorRedirectUrl: `${SITE}/contact/error?lang=en` });

    const response = await submitForm(
      'contact',
      browserPost({ email: '', message: 'see http://a.example and http://b.example' }),
      deps,
    );

    expect(response.status).toBe(303);
    const location = new URL(response.headers.location ?? '');
    expect(location.origin + location.pathname).toBe(`${SITE}/contact/error`);
    expect(location.searchParams.get('lang')).toBe('en');
    expect(location.searchParams.get('error')).toBe('validation');
    expect(location.searchParams.getAll('field')).toEqual(['email']);
  });

  it('names the reason of a refusal that is not about fields on the error page redirect', async () => {
    const deps = setup({
      errorRedirectUrl: `${SITE}/contact/error`,
      rateLimit: { perIp: { max: 1, windowSeconds: 600 } },
    });
    await submitForm('contact', browserPost({ email: 'visitor@example.org', message: 'One' }), deps);

    const response = await submitForm(
      'contact',
      browserPost({ email: 'visitor@example.org', message: 'Two' }),
      deps,
    );

    expect(response.headers.location).toBe(`${SITE}/contact/error?error=rate-limited`);
  });
});

describe('Core: refused origins are logged', () => {
  it('logs the origin of a refused post', async () => {
    const deps = setup();

    await submitForm(
      'contact',
      browserPost({ email: 'visitor@example.org', message: 'Hi' }, { origin: 'http://localhost:5173' }),
      deps,
    );

    expect(deps.log.entries).toContainEqual(
      expect.objectContaining({
        message: 'submission rejected',
        attributes: expect.objectContaining({
          status: 403,
          reason: 'origin',
          origin: 'http://localhost:5173',
        }),
      }),
    );
  });

  it('logs the origin of a refused preflight, which the page itself never learns', () => {
    const deps = setup();

    const response = preflightForm(
      deps.config,
      'contact',
      {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
        body: Buffer.alloc(0),
      },
      deps.log,
    );

    expect(response.status).toBe(403);
    expect(deps.log.entries).toContainEqual(
      expect.objectContaining({
        message: 'preflight refused',
        attributes: expect.objectContaining({ formId: 'contact', origin: 'http://localhost:5173' }),
      }),
    );
  });
});
