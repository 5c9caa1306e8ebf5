import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { PostroomConfig } from '../../functions/core/config/config';
import { buildFormMailJob } from '../../functions/core/forms/form-mail';
import { validateSubmission } from '../../functions/core/forms/form-submission';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import { eventually, type SesEmail, type TestStack } from './local-stack';
import { shippedTemplatesNow } from './templates';
import type { ThrottledSesPeer } from './throttled-ses-peer';

/**
 * Scenarios run against more than one local stack: the functions from their TypeScript sources
 * (test/integration/*) and from the bundles `cdk synth` builds, on the Lambda runtime's Node
 * (test/e2e/lambda-bundles.test.ts). Each registers its tests in the caller's describe block; `stack`
 * gives the stack its beforeAll started.
 */

function deliveredTo(stack: TestStack, marker: string): Promise<SesEmail> {
  return eventually(
    async () => (await stack.sesEmails()).find((email) => email.body.text?.includes(marker)),
    5_000,
    marker,
  );
}

/** A contact form post to the inbox: JSON, an HTML form, multipart, and the logs that follow a submission. */
export function formToInboxScenarios(current: () => TestStack): void {
  const formUrl = () => `${current().apiUrl}/v1/forms/contact`;
  const delivered = (marker: string) => deliveredTo(current(), marker);

  it('delivers a JSON submission with the configured From, the visitor as Reply-To, and the form recipient', async () => {
    const marker = randomUUID();
    const response = await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'Jane Doe',
        email: 'jane@example.org',
        message: `Hello ${marker}`,
        company: 'ACME',
      }),
    });

    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const email = await delivered(marker);
    expect(email.from).toBe('"Postroom" <no-reply@example.com>');
    expect(email.replyTo).toEqual(['jane@example.org']);
    expect(email.destination.to).toEqual(['owner@example.com']);
    expect(email.subject).toBe('New message from Jane Doe');
    expect(email.body.text).toContain(`Message: Hello ${marker}`);
    expect(email.body.text).toContain('Company: ACME');
    expect(email.body.html).toContain(`Hello ${marker}`);
  });

  it('logs one correlation id on the send line and on the relay\'s "job sent" line for the submission', async () => {
    const marker = randomUUID();
    const response = await fetch(formUrl(), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-correlation-id': 'forged-by-the-client' },
      body: JSON.stringify({ email: 'corr@example.org', message: `Correlated ${marker}` }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    const lineFor = (message: string) =>
      eventually(
        async () =>
          current().log.entries.find((entry) => entry.message === message && entry.attributes.jobId === id),
        5_000,
        message,
      );
    const accepted = await lineFor('submission accepted');
    const sent = await lineFor('job sent');
    const correlationId = accepted.attributes.correlationId;
    expect(correlationId).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    expect(sent.attributes.correlationId).toBe(correlationId);
    expect(current().log.text()).not.toContain('forged-by-the-client');
  });

  it('answers a plain HTML form post with 303 to the thank-you page and delivers it', async () => {
    const marker = randomUUID();
    const response = await fetch(formUrl(), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost:3000' },
      body: new URLSearchParams({
        name: 'Form Poster',
        email: 'poster@example.net',
        message: `Via HTML ${marker}`,
      }),
    });

    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('http://localhost:3000/thanks');
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    const email = await delivered(marker);
    expect(email.replyTo).toEqual(['poster@example.net']);
  });

  it('delivers a multipart/form-data submission', async () => {
    const marker = randomUUID();
    const body = new FormData();
    body.set('email', 'multi@example.com');
    body.set('message', `Multipart ${marker}`);
    const response = await fetch(formUrl(), {
      method: 'POST',
      headers: { accept: 'application/json' },
      body,
    });

    expect(response.status).toBe(202);
    const email = await delivered(marker);
    expect(email.subject).toBe('New message from');
  });
}

/** The transactional API: a message sent with a key, then its status read back with GET. */
export function sendApiScenarios(current: () => TestStack, apiKey: string): void {
  const send = (body: unknown) =>
    fetch(`${current().apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify(body),
    });
  const message = (marker: string) => ({
    from: 'Shop <orders@example.com>',
    to: 'customer@example.org',
    cc: ['accounts@example.org'],
    subject: `Receipt ${marker}`,
    text: `Thank you ${marker}`,
    tags: [{ name: 'category', value: 'receipt' }],
  });
  const delivered = (marker: string) => deliveredTo(current(), marker);
  async function status(id: string) {
    const response = await fetch(`${current().apiUrl}/v1/messages/${id}`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('accepts a message with 202, delivers it, and its status goes queued, sent, delivered', async () => {
    const marker = randomUUID();
    const response = await send(message(marker));

    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    const email = await delivered(marker);
    expect(email.from).toBe('"Shop" <orders@example.com>');
    expect(email.subject).toBe(`Receipt ${marker}`);
    const sent = await eventually(
      async () => {
        const current = await status(id);
        return current.body.status === 'delivered' ? current : undefined;
      },
      5_000,
      'status delivered',
    );
    expect(sent.status).toBe(200);
    const history = sent.body.history as Array<{ status: string; at: string; detail?: string }>;
    // The delivery event is asynchronous, as on AWS: the relay's entries are in order, the event after them.
    const relayed = history.filter((change) => change.status !== 'delivered');
    expect(relayed.map((change) => change.status)).toEqual(['queued', 'sent']);
    expect(relayed[1]?.detail).toBe(email.messageId);
    expect(history.filter((change) => change.status === 'delivered')).toHaveLength(1);
    expect(Date.parse(history[0]?.at ?? '')).not.toBeNaN();
  });
}

/** Form mail jobs as the send function builds them, for a test that fills the queue directly. */
export function formJobs(config: PostroomConfig, count: number): Array<{ id: string; body: string }> {
  const form = config.forms[0];
  if (!form) throw new Error('the test config has no form');
  return Array.from({ length: count }, (_, i) => {
    const submission = validateSubmission(
      [
        ['email', 'paced@example.org'],
        ['message', `Paced mail ${i}`],
      ],
      form,
    );
    const id = randomUUID();
    return {
      id,
      body: serializeMailJob(
        buildFormMailJob(config, form, submission, { id, createdAt: new Date() }, [], shippedTemplatesNow()),
      ),
    };
  });
}

/**
 * The relay against a provider limited to `peer`'s rate, unpaced: a backlog of `mails` goes out above the
 * rate, the provider throttles, and the relay takes the throttle as retryable (the job comes back later),
 * not as a failure; no mail is sent twice.
 */
export async function expectThrottlingRetried(
  stack: TestStack,
  peer: ThrottledSesPeer,
  config: PostroomConfig,
  mails: number,
): Promise<void> {
  // Prepare
  const backlog = formJobs(config, mails);

  // Act
  await Promise.all(backlog.map((job) => stack.sendRaw(job.body)));
  const retried = await eventually(
    async () => stack.log.entries.find((entry) => entry.attributes.outcome === 'retry'),
    10_000,
    'a retry',
  );

  // Assess: the relay's batches go out at once, above the peer's rate; a throttled mail waits its turn.
  expect(peer.throttled).toBeGreaterThan(0);
  expect(retried.attributes.reason).toContain('TooManyRequestsException');
  expect(stack.log.entries.filter((entry) => entry.attributes.outcome === 'dead-lettered')).toEqual([]);
  expect(new Set(peer.jobIds).size).toBe(peer.jobIds.length);
}
