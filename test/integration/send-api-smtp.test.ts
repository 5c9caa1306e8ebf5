import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { SmtpPeer, smtpTransportFor } from '../support/smtp-peer';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

describe('Transactional API through a real SMTP server: Bcc stays blind', () => {
  const credentials = { user: 'postroom', password: randomUUID() };
  const peer = new SmtpPeer(credentials);
  let stack: TestStack;

  beforeAll(async () => {
    await peer.start();
    const config = testConfig({
      transport: smtpTransportFor(peer, credentials.user),
    });
    stack = await startTestStack(config, { smtpPassword: credentials.password, apiKey: API_KEY });
  });

  afterAll(async () => {
    await stack?.stop();
    await peer.stop();
  });

  it('delivers to the bcc address in the envelope and names it in no header', async () => {
    const marker = randomUUID();
    const response = await fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        from: 'no-reply@example.com',
        to: 'to@example.org',
        cc: 'copy@example.org',
        bcc: ['auditor@example.net'],
        subject: `Bcc ${marker}`,
        text: `Body ${marker}`,
        headers: { 'List-Unsubscribe': '<https://example.com/unsubscribe/42>' },
      }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    const mail = await eventually(async () => peer.received[0], 5_000, 'SMTP delivery');
    expect(mail.envelopeTo).toEqual(['to@example.org', 'copy@example.org', 'auditor@example.net']);
    expect(mail.parsed.headers.get('x-postroom-job-id')).toBe(id);
    const headerBlock = mail.raw.toString('utf8').split('\r\n\r\n', 1)[0] ?? '';
    expect(headerBlock).toMatch(/^Cc: copy@example\.org$/m);
    expect(headerBlock).toMatch(/^List-Unsubscribe: <https:\/\/example\.com\/unsubscribe\/42>$/m);
    expect(headerBlock).not.toMatch(/auditor/i);
    expect(mail.raw.toString('utf8')).not.toContain('auditor@example.net');
    expect(mail.parsed.headers.has('bcc')).toBe(false);
  });
});
