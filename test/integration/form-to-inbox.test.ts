import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { formToInboxScenarios } from '../support/scenarios';

describe('Pipeline: contact form to SES inbox (fauxqs, aws-ses-v2-local, dynalite)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(testConfig());
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const formUrl = () => `${stack.apiUrl}/v1/forms/contact`;
  const delivered = (marker: string) =>
    eventually(
      async () => (await stack.sesEmails()).find((email) => email.body.text?.includes(marker)),
      5_000,
      marker,
    );

  formToInboxScenarios(() => stack);

  it('escapes HTML a visitor writes, in the HTML body', async () => {
    const marker = randomUUID();
    await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'x@example.com', message: `<script>alert(1)</script> ${marker}` }),
    });

    const email = await delivered(marker);
    expect(email.body.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(email.body.html).not.toContain('<script>');
  });

  it('answers a filled honeypot exactly like a success and sends nothing', async () => {
    const marker = randomUUID();
    const response = await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'bot@example.com',
        message: `Spam ${marker}`,
        _gotcha: 'http://spam.example',
      }),
    });

    expect(response.status).toBe(202);
    expect(Object.keys((await response.json()) as object)).toEqual(['id']);
    await sleep(1_000);
    expect((await stack.sesEmails()).some((email) => email.body.text?.includes(marker))).toBe(false);
    expect(await stack.depth(stack.resources.queueUrl)).toBe(0);
  });

  it('refuses a browser post from an origin the form does not allow, enqueuing nothing', async () => {
    const response = await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: JSON.stringify({ email: 'x@example.com', message: 'from elsewhere' }),
    });

    expect(response.status).toBe(403);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(await stack.depth(stack.resources.queueUrl)).toBe(0);
  });

  it('answers the CORS preflight for an allowed origin', async () => {
    const response = await fetch(formUrl(), {
      method: 'OPTIONS',
      headers: {
        origin: 'http://127.0.0.1:3000',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });

    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:3000');
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
  });

  it('returns 422 problem+json naming each bad field, and enqueues nothing', async () => {
    const response = await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'a@b@example.com', name: 'Eve\r\nBcc: victim@example.com' }),
    });

    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await response.json()) as { status: number; errors: Array<{ field: string }> };
    expect(problem.status).toBe(422);
    expect(problem.errors.map((e) => e.field).sort()).toEqual(['email', 'message', 'name']);
    expect(await stack.depth(stack.resources.queueUrl)).toBe(0);
  });

  it('returns 404 for an unknown form, 413 for a body over the limit and 415 for other content types', async () => {
    const unknown = await fetch(`${stack.apiUrl}/v1/forms/nope`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const tooLarge = await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'x@example.com', message: 'x'.repeat(70_000) }),
    });
    const wrongType = await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hi',
    });
    const malformed = await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"email":',
    });

    expect([unknown.status, tooLarge.status, wrongType.status, malformed.status]).toEqual([
      404, 413, 415, 400,
    ]);
    expect(await stack.depth(stack.resources.queueUrl)).toBe(0);
  });

  it('reports healthy when the queue can be reached', async () => {
    const response = await fetch(`${stack.apiUrl}/health`);

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('serves the demo contact form posting to the contact form', async () => {
    const html = await (await fetch(`${stack.apiUrl}/`)).text();

    expect(html).toContain('action="/v1/forms/contact"');
    expect(html).toContain('name="_gotcha"');
  });

  it('logs job ids and outcomes but never the message text or a full address', async () => {
    const marker = randomUUID();
    await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'private.person@example.org', message: `Secret ${marker}` }),
    });
    await delivered(marker);

    const logs = stack.log.text();
    expect(logs).toContain('"outcome":"sent"');
    expect(logs).not.toContain(marker);
    expect(logs).not.toContain('private.person@example.org');
    expect(logs).not.toContain('owner@example.com');
  });
});
