import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ATTRIBUTE } from '../../functions/adapters/queue-attributes';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { SmtpPeer, smtpTransportFor } from '../support/smtp-peer';

describe('Relay: SMTP transport against a real SMTP server with STARTTLS and AUTH', () => {
  const credentials = { user: 'postroom', password: randomUUID() };
  const peer = new SmtpPeer(credentials);
  let stack: TestStack;

  beforeAll(async () => {
    await peer.start();
    const config = testConfig({
      transport: smtpTransportFor(peer, credentials.user),
    });
    stack = await startTestStack(config, { smtpPassword: credentials.password });
  });

  afterAll(async () => {
    await stack?.stop();
    await peer.stop();
  });

  beforeEach(() => peer.reset());

  async function submit(message: string, email = 'visitor@example.org') {
    const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Visitor', email, message }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  }

  it('delivers over STARTTLS after AUTH with the right envelope and headers', async () => {
    const marker = randomUUID();
    const id = await submit(`Over SMTP ${marker}`);

    const mail = await eventually(async () => peer.received[0], 5_000, 'SMTP delivery');
    expect(mail.secure).toBe(true);
    expect(mail.user).toBe(credentials.user);
    expect(mail.envelopeFrom).toBe('no-reply@example.com');
    expect(mail.envelopeTo).toEqual(['owner@example.com']);
    // The server offers SIZE: MAIL FROM declares the message's size before its body is sent, in the octets
    // the server receives (CRLF line ends; RFC 1870 section 3).
    expect(mail.declaredSize).toBe(String(mail.raw.length));
    expect(mail.parsed.from?.value).toEqual([{ name: 'Postroom', address: 'no-reply@example.com' }]);
    expect(mail.parsed.replyTo?.value).toEqual([{ name: '', address: 'visitor@example.org' }]);
    expect(mail.parsed.subject).toBe('New message from Visitor');
    expect(mail.parsed.text).toContain(`Over SMTP ${marker}`);
    expect(mail.parsed.headers.get('x-postroom-job-id')).toBe(id);
    expect(mail.parsed.messageId).toBe(`<${id}@example.com>`);
  });

  it('retries an SMTP 451 with backoff and then delivers once', async () => {
    peer.answer([451]);
    const marker = randomUUID();
    await submit(`Retry me ${marker}`);

    const mail = await eventually(async () => peer.received[0], 8_000, 'delivery after retry');
    expect(mail.parsed.text).toContain(marker);
    expect(peer.attempts).toBe(2);
    expect(
      stack.log.entries.some(
        (l) => l.attributes.outcome === 'retry' && String(l.attributes.reason).startsWith('smtp 451'),
      ),
    ).toBe(true);
    await stack.drained(stack.resources.queueUrl);
  });

  it('fails an attempt whose connection drops in DATA; the relay retries it and it is delivered once', async () => {
    peer.answer(['drop']);
    const marker = randomUUID();
    await submit(`Dropped once ${marker}`);

    const mail = await eventually(async () => peer.received[0], 8_000, 'delivery after retry');
    expect(mail.parsed.text).toContain(marker);
    expect(peer.attempts).toBe(2);
    // One failed relay attempt, retried under its claim.
    expect(
      stack.log.entries
        .filter((l) => l.attributes.outcome === 'retry' && String(l.attributes.reason).startsWith('network'))
        .map((l) => l.attributes.reason),
    ).toEqual(['network ECONNECTION: Connection closed unexpectedly']);
    await stack.drained(stack.resources.queueUrl);
  });

  it('dead-letters an SMTP 550 after one attempt, with the reason as a message attribute', async () => {
    peer.answer([], 550);
    const id = await submit(`Rejected ${randomUUID()}`);

    const [letter] = await stack.deadLetters(5_000);
    expect(letter?.attributes[ATTRIBUTE.jobId]).toBe(id);
    expect(letter?.attributes[ATTRIBUTE.reason]).toMatch(/^smtp 550: /);
    // The provider's text quoted an address: the stored reason masks it.
    expect(letter?.attributes[ATTRIBUTE.reason]).toContain('***@example.com');
    expect(peer.attempts).toBe(1);
    expect(peer.received).toHaveLength(0);
    await stack.drained(stack.resources.queueUrl);
  });

  it('dead-letters a job that keeps failing transiently once maxReceiveCount attempts are spent', async () => {
    peer.answer([], 421);
    const id = await submit(`Never accepted ${randomUUID()}`);

    const [letter] = await stack.deadLetters(15_000);
    expect(letter?.attributes[ATTRIBUTE.jobId]).toBe(id);
    expect(letter?.attributes[ATTRIBUTE.reason]).toMatch(/^retries exhausted after 5 attempts: smtp 421/);
    expect(peer.attempts).toBe(5);
    await stack.drained(stack.resources.queueUrl);
  }, 20_000);
});
