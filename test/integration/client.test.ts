import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Postroom, type SendEmailInput } from 'postroom/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedHeaders } from '../../functions/core/webhooks/dispatch';
import { payloadOf } from '../../functions/core/webhooks/webhook-event';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { newWebhookSecret } from '../support/webhook-receiver';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

/** RFC 3339 UTC to the second, `ms` from now, rounded up so that the time is never in the past. */
function inMs(ms: number): { iso: string; atMs: number } {
  const atMs = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { iso: new Date(atMs).toISOString().replace('.000Z', 'Z'), atMs };
}

describe('Client: postroom/client against the local stack', () => {
  let stack: TestStack;
  let postroom: Postroom;

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
    postroom = new Postroom({ apiKey: API_KEY, baseUrl: stack.apiUrl });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const email = (marker: string, extra: Partial<SendEmailInput> = {}): SendEmailInput => ({
    from: 'Shop <orders@example.com>',
    to: ['jane@example.org'],
    subject: `Receipt ${marker}`,
    text: `Thank you. ${marker}`,
    ...extra,
  });

  const delivered = (marker: string) =>
    eventually(
      async () => (await stack.sesEmails()).find((sent) => sent.body.text?.includes(marker)),
      10_000,
      marker,
    );

  it('sends an email and reads its status until delivered', async () => {
    // Prepare
    const marker = randomUUID();

    // Act
    const sent = await postroom.emails.send(email(marker, { cc: 'books@example.com' }));
    const id = sent.data?.id ?? '';

    // Assess
    expect(sent).toMatchObject({ data: { id: expect.stringMatching(/^[0-9a-f-]{36}$/) }, error: null });
    expect(sent.headers?.['content-type']).toBe('application/json');
    expect((await delivered(marker)).destination.cc).toEqual(['books@example.com']);
    const status = await eventually(async () => {
      const read = await postroom.emails.get(id);
      return read.data?.status === 'delivered' ? read : undefined;
    });
    // A first attempt writes no `sending` (docs/cost.md): queued, then straight to sent.
    expect(status.data?.history.map((change) => change.status)).toEqual(['queued', 'sent', 'delivered']);
  });

  it('replays a send with the same idempotencyKey and refuses the key with another payload', async () => {
    // Prepare
    const marker = randomUUID();
    const idempotencyKey = `receipt-${marker}`;

    // Act
    const first = await postroom.emails.send(email(marker), { idempotencyKey });
    const again = await postroom.emails.send(email(marker), { idempotencyKey });
    const other = await postroom.emails.send(email(`${marker} changed`), { idempotencyKey });

    // Assess
    expect(again.data).toEqual(first.data);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(other.data).toBeNull();
    // 409 today; 422 once the API follows the IETF idempotency draft (same key, other payload).
    expect([409, 422]).toContain(other.error?.status);
  });

  it('sends a batch, one result per message, a refused one with its field errors', async () => {
    // Prepare
    const marker = randomUUID();

    // Act
    const batch = await postroom.emails.batch([email(marker), email('bad', { to: 'not-an-address' })]);

    // Assess
    expect(batch.error).toBeNull();
    expect(batch.data?.results).toEqual([
      { index: 0, id: expect.any(String) },
      { index: 1, errors: [{ field: 'to[0]', detail: expect.any(String) }] },
    ]);
    await delivered(marker);
  });

  it('schedules, reschedules and cancels an email, and answers 409 with the status once it is canceled', async () => {
    // Prepare
    const later = inMs(3_600_000);
    const sent = await postroom.emails.send(email(randomUUID(), { scheduledAt: later.iso }));
    const id = sent.data?.id ?? '';
    const evenLater = inMs(7_200_000);

    // Act
    const moved = await postroom.emails.reschedule(id, evenLater.iso);
    const canceled = await postroom.emails.cancel(id, { idempotencyKey: `cancel-${id}` });
    const again = await postroom.emails.cancel(id);

    // Assess
    expect(sent.data).toEqual({ id, status: 'scheduled', scheduledAt: later.iso });
    expect(moved.data).toEqual({ id, status: 'scheduled', scheduledAt: evenLater.iso });
    expect(canceled.data).toEqual({ id, status: 'canceled' });
    expect(again).toMatchObject({ data: null, error: { status: 409, messageStatus: 'canceled' } });
    expect((await postroom.emails.get(id)).data?.status).toBe('canceled');
  });

  it('renders a template without sending, and answers 422 naming a missing variable', async () => {
    // Act
    const rendered = await postroom.templates.render('welcome', {
      name: 'Ada',
      actionUrl: 'https://example.com/start',
    });
    const missing = await postroom.templates.render('welcome', { name: 'Ada' });

    // Assess
    expect(rendered.data).toMatchObject({ subject: 'Welcome, Ada', version: expect.any(String) });
    expect(rendered.data?.html).toContain('https://example.com/start');
    expect(missing.error).toMatchObject({
      status: 422,
      errors: [{ field: 'template.variables.actionUrl', detail: expect.any(String) }],
    });
  });

  it('returns HTTP errors as values with their problem details and headers, never throwing', async () => {
    // Prepare
    const noKey = new Postroom({ apiKey: '', baseUrl: stack.apiUrl });

    // Act
    const unknown = await postroom.emails.get(randomUUID());
    const invalid = await postroom.emails.send(email('x', { from: 'ceo@elsewhere.example' }));
    const unauthorized = await noKey.emails.send(email('x'));

    // Assess
    expect(unknown).toMatchObject({ data: null, error: { status: 404, title: 'Not Found' } });
    expect(invalid.error?.errors).toEqual([
      { field: 'from', detail: 'must be an address at example.com, the sending domain' },
    ]);
    expect(unauthorized.error?.status).toBe(401);
    expect(unauthorized.headers?.['www-authenticate']).toMatch(/^Bearer/);
  });

  it('returns a network failure and a timeout as error values with status null', async () => {
    // Prepare: a port nothing listens on, and a server that never answers.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    // Act
    const refused = await new Postroom({
      apiKey: API_KEY,
      baseUrl: `http://127.0.0.1:${closedPort}`,
    }).emails.get(randomUUID());
    const slow = await new Postroom({
      apiKey: API_KEY,
      baseUrl: `http://127.0.0.1:${port}`,
      timeoutMs: 200,
    }).emails.get(randomUUID());
    silent.closeAllConnections();
    silent.close();

    // Assess
    expect(refused).toMatchObject({
      data: null,
      headers: null,
      error: { status: null, title: 'Network Error' },
    });
    expect(refused.error?.detail).toMatch(/ECONNREFUSED/);
    expect(slow).toMatchObject({ data: null, headers: null, error: { status: null, title: 'Timeout' } });
  });

  it('takes its key and URL from POSTROOM_API_KEY and POSTROOM_BASE_URL', async () => {
    // Prepare
    const saved = { key: process.env.POSTROOM_API_KEY, url: process.env.POSTROOM_BASE_URL };
    process.env.POSTROOM_API_KEY = API_KEY;
    process.env.POSTROOM_BASE_URL = `${stack.apiUrl}/`;
    try {
      // Act
      const fromEnvironment = new Postroom();
      const sent = await fromEnvironment.emails.send(email(randomUUID()));

      // Assess
      expect(fromEnvironment.baseUrl).toBe(stack.apiUrl);
      expect(sent.error).toBeNull();
    } finally {
      for (const [name, value] of [
        ['POSTROOM_API_KEY', saved.key],
        ['POSTROOM_BASE_URL', saved.url],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("verifies a webhook signed by Postroom's dispatcher, and refuses a changed body, another secret or an old timestamp", () => {
    // Prepare
    const secret = newWebhookSecret();
    const body = payloadOf({
      type: 'email.delivered',
      timestamp: '2026-12-03T10:00:00.000Z',
      data: { messageId: randomUUID(), status: 'delivered', recipients: ['jane@example.org'] },
    });
    const now = new Date();
    const headers = signedHeaders(`${newWebhookSecret()} ${secret}`, { id: 'msg_client_test' }, body, now);

    // Act
    const verified = postroom.webhooks.verify(body, headers, secret);
    const fromHeadersObject = postroom.webhooks.verify(Buffer.from(body), new Headers(headers), secret);
    const changed = postroom.webhooks.verify(body.replace('delivered', 'bounced'), headers, secret);
    const otherSecret = postroom.webhooks.verify(body, headers, newWebhookSecret());
    const old = postroom.webhooks.verify(body, headers, secret, { now: new Date(now.getTime() + 600_000) });

    // Assess
    expect(verified).toMatchObject({
      error: null,
      data: { type: 'email.delivered', data: { status: 'delivered' } },
    });
    expect(fromHeadersObject.data).toEqual(verified.data);
    for (const refused of [changed, otherSecret, old]) {
      expect(refused).toMatchObject({
        data: null,
        error: { status: null, title: 'Webhook Verification Failed' },
      });
    }
    expect(old.error?.detail).toMatch(/timestamp/);
  });
});
