import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPostroomContext } from '../../local/config-file';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';

/** A POST from a chosen loopback address: each 127.0.0.x acts as a different visitor. */
function postFrom(
  localAddress: string,
  url: string,
  body: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const req = request(
      url,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('Guards: the shipped form defences against the local stack (dynalite counters)', () => {
  let stack: TestStack;
  const shippedForm = (readPostroomContext(FIXTURE_CONFIG_FILE) as { forms: Array<Record<string, unknown>> })
    .forms[0];

  beforeAll(async () => {
    // The shipped contact form, limits included.
    const withConfirmation = {
      id: 'with-confirmation',
      recipients: ['owner@example.com'],
      subject: 'Confirmed form',
      autoresponse: { subject: 'We got your message', text: 'Thank you. We answer within two working days.' },
    };
    stack = await startTestStack(testConfig({ forms: [shippedForm, withConfirmation] }));
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const url = () => `${stack.apiUrl}/v1/forms/contact`;
  const fields = () => ({ email: 'visitor@example.org', message: `Hello ${randomUUID()}` });

  it('answers 429 with Retry-After to the sixth submission from one IP in ten minutes, and keeps serving other IPs', async () => {
    const statuses: number[] = [];
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await postFrom('127.0.0.2', url(), fields());
      statuses.push(answer.status);
      remaining.push(String(answer.headers.ratelimit).split(';')[1] ?? '');
    }
    const sixth = await postFrom('127.0.0.2', url(), fields());
    const otherVisitor = await postFrom('127.0.0.3', url(), fields());

    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    // The per-IP quota counts down on each answer (draft-ietf-httpapi-ratelimit-headers-10), to 0 on the 429.
    expect(remaining).toEqual(['r=4', 'r=3', 'r=2', 'r=1', 'r=0']);
    expect(sixth.headers['ratelimit-policy']).toBe('"per-ip";q=5;w=600');
    expect(sixth.headers.ratelimit).toMatch(/^"per-ip";r=0;t=\d+$/);
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(sixth.headers['retry-after'])).toBeLessThanOrEqual(600);
    expect(sixth.headers['content-type']).toBe('application/problem+json');
    expect(otherVisitor.status).toBe(202);
    await eventually(
      async () => ((await stack.sesEmails()).length === 6 ? true : undefined),
      5_000,
      'six mails',
    );
  });

  it('sends a repeated identical submission once and answers it with the first id', async () => {
    const same = fields();

    const first = await postFrom('127.0.0.4', url(), same);
    const repeat = await postFrom('127.0.0.4', url(), same);

    expect(first.status).toBe(202);
    expect(repeat.body).toBe(first.body);
    await stack.drained(stack.resources.queueUrl);
    const copies = (await stack.sesEmails()).filter((e) => e.body.text?.includes(same.message));
    expect(copies).toHaveLength(1);
  });

  it('refuses a message with more than three links, naming the field', async () => {
    const response = await postFrom('127.0.0.5', url(), {
      email: 'visitor@example.org',
      message: 'https://a.example https://b.example https://c.example https://d.example',
    });

    expect(response.status).toBe(422);
    expect(JSON.parse(response.body).errors).toEqual([
      { field: 'message', detail: 'must contain at most 3 links' },
    ]);
  });

  it('mails the visitor the fixed confirmation, from the configured sender', async () => {
    const marker = randomUUID();
    const response = await postFrom('127.0.0.6', `${stack.apiUrl}/v1/forms/with-confirmation`, {
      email: 'asker@example.net',
      message: `Question ${marker}`,
    });

    expect(response.status).toBe(202);
    const confirmation = await eventually(
      async () => (await stack.sesEmails()).find((e) => e.destination.to.includes('asker@example.net')),
      5_000,
      'the confirmation',
    );
    expect(confirmation.subject).toBe('We got your message');
    expect(confirmation.from).toBe('"Postroom" <no-reply@example.com>');
    expect(confirmation.body.text).toContain('We answer within two working days.');
    expect(confirmation.body.text).not.toContain(marker);
  });
});
