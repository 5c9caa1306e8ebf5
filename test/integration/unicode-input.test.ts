import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

describe('Unicode input through the local stack (fauxqs, SES emulator)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function send(body: unknown) {
    return fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify(body),
    });
  }

  it('delivers an emoji in the subject and the text of an API message', async () => {
    const marker = randomUUID();
    const response = await send({
      from: 'orders@example.com',
      to: 'customer@example.org',
      subject: `Party 🎉 ${marker}`,
      text: `Cake 🍰 ${marker}`,
    });
    expect(response.status).toBe(202);
    const mail = await eventually(
      async () => (await stack.sesEmails()).find((email) => email.body.text?.includes(marker)),
      5_000,
      marker,
    );
    expect(mail.subject).toBe(`Party 🎉 ${marker}`);
    expect(mail.body.text?.trim()).toBe(`Cake 🍰 ${marker}`);
  });
});
