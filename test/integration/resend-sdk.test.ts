import { randomUUID } from 'node:crypto';
import { Resend } from 'resend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { newWebhookSecret, WebhookReceiver } from '../support/webhook-receiver';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;
const FROM = 'Shop <orders@example.com>';
// The first bytes of a PDF: the core checks an attachment's bytes against its type.
const PDF = Buffer.from('%PDF-1.7\n%resend sdk test\n');

/** RFC 3339 UTC to the second, `ms` from now, rounded up so that the time is never in the past. */
function inMs(ms: number): { iso: string; atMs: number } {
  const atMs = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { iso: new Date(atMs).toISOString().replace('.000Z', 'Z'), atMs };
}

interface StoredAttachment {
  filename?: string;
  contentType: string;
  content: string;
}

describe("Resend's official SDK against Postroom's /resend surface (local stack)", () => {
  const receiver = new WebhookReceiver();
  const webhookSecret = newWebhookSecret();
  let stack: TestStack;
  let resend: Resend;

  beforeAll(async () => {
    await receiver.start();
    const webhooks = [
      { id: 'app', url: `${receiver.url}/app`, events: ['email.sent'], secret: 'postroom/webhooks/app' },
    ];
    stack = await startTestStack(testConfig({ webhooks }), {
      apiKey: API_KEY,
      webhookSecrets: { app: webhookSecret },
    });
    resend = new Resend(API_KEY, { baseUrl: `${stack.apiUrl}/resend` });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await receiver.stop();
  });

  const delivered = (marker: string, timeoutMs = 10_000) =>
    eventually(
      async () => (await stack.sesEmails()).find((email) => email.body.text?.includes(marker)),
      timeoutMs,
      marker,
    );

  const lastEvent = async (id: string) => (await resend.emails.get(id)).data?.last_event;

  it('sends an email in Resend’s wire format: cc, bcc, reply_to, tags and a file whose type comes from its name', async () => {
    // Prepare
    const marker = randomUUID();

    // Act
    const { data, error, headers } = await resend.emails.send({
      from: FROM,
      to: ['jane@example.org'],
      cc: 'accounts@example.org',
      bcc: 'books@example.com',
      replyTo: ['support@example.com'],
      subject: `Invoice ${marker}`,
      text: `Your invoice is attached. ${marker}`,
      tags: [{ name: 'category', value: 'invoice' }],
      attachments: [{ filename: 'invoice-1042.pdf', content: PDF }],
    });

    // Assess
    expect(error).toBeNull();
    expect(data).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(headers?.['content-type']).toBe('application/json');
    const email = (await delivered(marker)) as Awaited<ReturnType<typeof delivered>> & {
      attachments: StoredAttachment[];
    };
    expect(email.subject).toBe(`Invoice ${marker}`);
    expect(email.replyTo).toEqual(['support@example.com']);
    expect(email.destination.cc).toEqual(['accounts@example.org']);
    expect(email.attachments.map((file) => [file.filename, file.contentType])).toEqual([
      ['invoice-1042.pdf', 'application/pdf'],
    ]);
    expect(Buffer.from(email.attachments[0]?.content ?? '', 'base64')).toEqual(PDF);
    // The email object, as Resend's GET answers it, once the local SES events have reported the delivery.
    await eventually(async () => ((await lastEvent(data?.id ?? '')) === 'delivered' ? true : undefined));
    const got = await resend.emails.get(data?.id ?? '');
    expect(got.error).toBeNull();
    expect(got.data).toMatchObject({
      object: 'email',
      id: data?.id,
      last_event: 'delivered',
      scheduled_at: null,
    });
    expect(Date.parse(got.data?.created_at ?? '')).toBeGreaterThan(Date.now() - 60_000);
  });

  it("verifies Postroom's signed webhook with resend.webhooks.verify, and refuses a tampered one", async () => {
    // Prepare
    const marker = randomUUID();
    const sent = await resend.emails.send({
      from: FROM,
      to: 'ada@example.org',
      subject: marker,
      text: marker,
    });
    const webhook = await eventually(
      async () => receiver.received.find((entry) => entry.body.includes(sent.data?.id ?? 'none')),
      10_000,
      'the email.sent webhook',
    );
    // Resend's docs read the svix-* headers; Postroom's are the Standard Webhooks names of the same values.
    const headers = {
      id: String(webhook.headers['webhook-id']),
      timestamp: String(webhook.headers['webhook-timestamp']),
      signature: String(webhook.headers['webhook-signature']),
    };

    // Act
    const event = resend.webhooks.verify({ payload: webhook.body, headers, webhookSecret }) as unknown;
    const tampered = () =>
      resend.webhooks.verify({ payload: webhook.body.replace('sent', 'SENT'), headers, webhookSecret });
    const otherSecret = () =>
      resend.webhooks.verify({ payload: webhook.body, headers, webhookSecret: newWebhookSecret() });

    // Assess
    expect(event).toMatchObject({ type: 'email.sent', data: { messageId: sent.data?.id, status: 'sent' } });
    expect(tampered).toThrow(/signature/i);
    expect(otherSecret).toThrow(/signature/i);
  });

  it('sends a batch as {data: [{id}]}, and refuses a strict batch with an invalid email whole', async () => {
    // Prepare
    const [one, two, kept, sentinel] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const email = (marker: string, to = 'team@example.org') => ({
      from: FROM,
      to,
      subject: marker,
      text: marker,
    });

    // Act
    const batch = await resend.batch.send([email(one), email(two)]);
    const strict = await resend.batch.send([email(kept), email('invalid', 'not-an-address')]);
    const permissive = await resend.batch.send([email(sentinel), email('invalid', 'a@b@example.org')], {
      batchValidation: 'permissive',
    });

    // Assess
    expect(batch.error).toBeNull();
    expect(batch.data?.data).toHaveLength(2);
    expect((await delivered(one)).subject).toBe(one);
    expect((await delivered(two)).subject).toBe(two);
    expect(strict.data).toBeNull();
    expect(strict.error).toEqual({
      statusCode: 422,
      name: 'validation_error',
      message: expect.stringContaining('`[1].to[0]`'),
    });
    expect(permissive.error).toBeNull();
    expect(permissive.data).toEqual({
      data: [{ id: expect.any(String) }],
      errors: [{ index: 1, message: expect.stringContaining('`to[0]`') }],
    });
    // The permissive batch's mail was queued after the strict one; once it is delivered, the strict one's
    // valid email would have been too.
    await delivered(sentinel);
    expect((await stack.sesEmails()).some((sent) => sent.subject === kept)).toBe(false);
  });

  it('replays a send with the same Idempotency-Key and refuses the key with another payload', async () => {
    // Prepare
    const marker = randomUUID();
    const payload = { from: FROM, to: 'jane@example.org', subject: `Receipt ${marker}`, text: marker };
    const idempotencyKey = `order-${marker}`;

    // Act
    const first = await resend.emails.send(payload, { idempotencyKey });
    const again = await resend.emails.send(payload, { idempotencyKey });
    const other = await resend.emails.send({ ...payload, subject: 'Another' }, { idempotencyKey });

    // Assess
    expect(again.data).toEqual(first.data);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(other.error).toMatchObject({ statusCode: 409, name: 'invalid_idempotent_request' });
    await delivered(marker);
    expect((await stack.sesEmails()).filter((sent) => sent.body.text?.includes(marker))).toHaveLength(1);
  });

  it('schedules an email with scheduledAt, reads it as scheduled, cancels it, and refuses a second cancel', async () => {
    // Prepare
    const { iso } = inMs(3_600_000);
    const sent = await resend.emails.send({
      from: FROM,
      to: 'jane@example.org',
      subject: 'Later',
      text: 'Scheduled',
      scheduledAt: iso,
    });
    const id = sent.data?.id ?? '';

    // Act
    const scheduled = await resend.emails.get(id);
    const canceled = await resend.emails.cancel(id);
    const after = await resend.emails.get(id);
    const again = await resend.emails.cancel(id);

    // Assess
    expect(scheduled.data).toMatchObject({ last_event: 'scheduled', scheduled_at: iso });
    expect(canceled).toMatchObject({ data: { object: 'email', id }, error: null });
    expect(after.data?.last_event).toBe('canceled');
    expect(again.error).toMatchObject({ statusCode: 409, name: 'validation_error' });
    expect(again.error?.message).toMatch(/canceled/);
  });

  it('moves a scheduled email with update (PATCH scheduled_at), and it goes out at the new time', async () => {
    // Prepare
    const marker = randomUUID();
    const sent = await resend.emails.send({
      from: FROM,
      to: 'jane@example.org',
      subject: marker,
      text: marker,
      scheduledAt: inMs(3_600_000).iso,
    });
    const id = sent.data?.id ?? '';
    const soon = inMs(2_000);

    // Act
    const moved = await resend.emails.update({ id, scheduledAt: soon.iso });
    const badTime = await resend.emails.update({ id, scheduledAt: 'in 1 min' });

    // Assess
    expect(moved).toMatchObject({ data: { object: 'email', id }, error: null });
    expect(badTime.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(badTime.error?.message).toContain('`scheduled_at`');
    const email = await delivered(marker);
    expect(email.at * 1000).toBeGreaterThanOrEqual(soon.atMs);
    await eventually(async () => ((await lastEvent(id)) === 'delivered' ? true : undefined));
  });

  it('sends with a template and its variables, and names a missing variable', async () => {
    // Prepare
    const name = `Ada ${randomUUID().slice(0, 8)}`;

    // Act
    const sent = await resend.emails.send({
      from: FROM,
      to: 'ada@example.org',
      template: { id: 'welcome', variables: { name, actionUrl: 'https://example.com/start' } },
    });
    const missing = await resend.emails.send({
      from: FROM,
      to: 'ada@example.org',
      template: { id: 'welcome', variables: { name } },
    });

    // Assess
    expect(sent.error).toBeNull();
    await eventually(async () =>
      (await stack.sesEmails()).find((email) => email.subject === `Welcome, ${name}`),
    );
    expect(missing.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(missing.error?.message).toContain('`template.variables.actionUrl`');
  });

  it('refuses a recipient on the suppression list after it bounced, as /v1 does', async () => {
    // Prepare: SES's mailbox simulator bounces this address permanently (local/ses-events.ts).
    const bounce = 'bounce@simulator.amazonses.com';
    const first = await resend.emails.send({ from: FROM, to: bounce, subject: 'Welcome', text: 'Hello' });
    await eventually(async () => ((await lastEvent(first.data?.id ?? '')) === 'bounced' ? true : undefined));

    // Act
    const again = await resend.emails.send({
      from: FROM,
      to: 'jane@example.org',
      cc: bounce,
      subject: 'Again',
      text: 'Hi',
    });

    // Assess
    expect(again.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(again.error?.message).toMatch(/^`cc` bounce@simulator\.amazonses\.com is on the suppression list/);
  });

  it("answers each refusal with Resend's error name", async () => {
    // Prepare
    const url = `${stack.apiUrl}/resend/emails`;
    const valid = { from: FROM, to: 'jane@example.org', subject: 'Hi', text: 'Hi' };
    const raw = (init: RequestInit, path = '') =>
      fetch(`${url}${path}`, init).then(async (response) => ({
        status: response.status,
        body: await response.json(),
      }));

    // Act
    const invalidField = await resend.emails.send({ ...valid, to: 'a@b@example.org' });
    const notFound = await resend.emails.get(randomUUID());
    const badKey = await resend.emails.send(valid, { idempotencyKey: 'k'.repeat(300) });
    const unsupported = await resend.emails.send({ ...valid, topicId: 'newsletter' });
    const missingKey = await raw({
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const wrongMethod = await raw(
      { method: 'DELETE', headers: { authorization: `Bearer ${API_KEY}` } },
      `/${randomUUID()}`,
    );
    const stranger = new Resend('pr_not-a-key-of-this-stack', { baseUrl: `${stack.apiUrl}/resend` });
    const invalidKey = await stranger.emails.send(valid);
    // Failed authentications are limited per client IP (10 a minute): the next ones are 429.
    let limited = invalidKey;
    for (let attempt = 0; attempt < 12 && limited.error?.statusCode !== 429; attempt++)
      limited = await stranger.emails.send(valid);

    // Assess
    expect(invalidField.error).toEqual({
      statusCode: 422,
      name: 'validation_error',
      message: '`to[0]` must contain exactly one @',
    });
    expect(notFound.error).toMatchObject({ statusCode: 404, name: 'not_found' });
    expect(badKey.error).toMatchObject({ statusCode: 400, name: 'invalid_idempotency_key' });
    expect(unsupported.error).toMatchObject({ statusCode: 422, name: 'validation_error' });
    expect(unsupported.error?.message).toContain('topic_id');
    expect(missingKey).toEqual({
      status: 401,
      body: { statusCode: 401, name: 'missing_api_key', message: expect.stringContaining('API key') },
    });
    expect(wrongMethod).toEqual({
      status: 405,
      body: { statusCode: 405, name: 'method_not_allowed', message: 'Use GET, PATCH.' },
    });
    expect(invalidKey.error).toMatchObject({ statusCode: 403, name: 'invalid_api_key' });
    expect(limited.error).toMatchObject({ statusCode: 429, name: 'rate_limit_exceeded' });
    expect(Number(limited.headers?.['retry-after'])).toBeGreaterThan(0);
  });
});
