import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../functions/adapters/aws-clients';
import { DynamoMessageStore } from '../../functions/adapters/dynamodb-messages';
import { LOCAL_ENV_KEY_ID } from '../../local/stack';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { sendApiScenarios } from '../support/scenarios';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

/** A POST from a chosen loopback address (each 127.0.0.x is another client), for the per-IP limit. */
function postFrom(localAddress: string, url: string, authorization: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = '{}';
    const req = httpRequest(
      url,
      {
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', authorization, 'content-length': payload.length },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('Transactional API against the local stack (dynalite, fauxqs, SES emulator)', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function send(body: unknown, headers: Record<string, string> = {}, key: string | null = API_KEY) {
    return fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key === null ? {} : { authorization: `Bearer ${key}` }),
        ...headers,
      },
      body: JSON.stringify(body),
    });
  }

  function message(marker: string) {
    return {
      from: 'Shop <orders@example.com>',
      to: 'customer@example.org',
      cc: ['accounts@example.org'],
      subject: `Receipt ${marker}`,
      text: `Thank you ${marker}`,
      tags: [{ name: 'category', value: 'receipt' }],
    };
  }

  const delivered = (marker: string) =>
    eventually(
      async () => (await stack.sesEmails()).find((email) => email.body.text?.includes(marker)),
      5_000,
      marker,
    );

  async function status(id: string, key = API_KEY) {
    const response = await fetch(`${stack.apiUrl}/v1/messages/${id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('answers 401 problem+json with WWW-Authenticate without a key and with a wrong one', async () => {
    for (const key of [null, 'pr_not-a-real-key']) {
      const response = await send(message('x'), {}, key);
      expect(response.status).toBe(401);
      expect(response.headers.get('content-type')).toBe('application/problem+json');
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(await response.json()).toMatchObject({ status: 401, title: 'Unauthorized' });
    }
  });

  it('rate-limits failed authentications per client IP with 429', async () => {
    const url = `${stack.apiUrl}/v1/send`;
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 11; attempt += 1) {
      statuses.push(await postFrom('127.0.0.42', url, 'Bearer pr_guess'));
    }
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses[10]).toBe(429);
    // Another client is not affected.
    expect(await postFrom('127.0.0.43', url, 'Bearer pr_guess')).toBe(401);
  });

  sendApiScenarios(() => stack, API_KEY);

  it('answers 422 naming the field for a From outside the sending domain', async () => {
    const response = await send({ ...message('x'), from: 'ceo@evil.example' });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ errors: [{ field: 'from' }] });
  });

  it('returns the same id for a replayed Idempotency-Key and sends one mail', async () => {
    const marker = randomUUID();
    const headers = { 'idempotency-key': `receipt-${marker}` };
    const first = await send(message(marker), headers);
    const again = await send(message(marker), headers);

    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    const firstId = ((await first.json()) as { id: string }).id;
    expect(((await again.json()) as { id: string }).id).toBe(firstId);
    await delivered(marker);
    await stack.drained(stack.resources.queueUrl);
    expect((await stack.sesEmails()).filter((email) => email.body.text?.includes(marker))).toHaveLength(1);
  });

  it('answers 422 when an Idempotency-Key comes back with another payload (draft-ietf-httpapi-idempotency-key-header)', async () => {
    const headers = { 'idempotency-key': `conflict-${randomUUID()}` };
    expect((await send(message('one'), headers)).status).toBe(202);

    const response = await send(message('two'), headers);

    expect(response.status).toBe(422);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });

  it('answers a batch with a result per message: ids for the good ones, errors for the bad one', async () => {
    const marker = randomUUID();
    const response = await fetch(`${stack.apiUrl}/v1/send/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        messages: [
          message(`${marker}-a`),
          { ...message(`${marker}-b`), to: 'not-an-address' },
          message(`${marker}-c`),
        ],
      }),
    });

    expect(response.status).toBe(200);
    const { results } = (await response.json()) as {
      results: Array<{ index: number; id?: string; errors?: Array<{ field: string }> }>;
    };
    expect(results.map((result) => result.index)).toEqual([0, 1, 2]);
    expect(results[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(results[1]?.errors?.[0]?.field).toBe('to[0]');
    expect(results[2]?.id).toMatch(/^[0-9a-f-]{36}$/);
    await delivered(`${marker}-a`);
    await delivered(`${marker}-c`);
  });

  it("records a contact-form message status too, but answers 404 for it: it is not this key's", async () => {
    const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'jane@example.org', message: `Hi ${randomUUID()}` }),
    });
    const { id } = (await response.json()) as { id: string };

    expect((await status(id)).status).toBe(404);
    expect((await status(randomUUID())).status).toBe(404);
    const dynamodb = createDynamoClient({
      region: 'us-east-1',
      endpoints: { dynamodb: stack.endpoints.dynamodb },
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const messages = new DynamoMessageStore(dynamodb, stack.resources.tableName, 30);
    const record = await eventually(
      async () => {
        const current = await messages.get(id);
        return current?.status === 'delivered' ? current : undefined;
      },
      5_000,
      'form message delivered',
    );
    dynamodb.destroy();
    expect(record.history.map((change) => change.status).sort()).toEqual(['delivered', 'queued', 'sent']);
    expect(record.keyId).toBeUndefined();
  });

  it('names the POSTROOM_API_KEY key in the job source', async () => {
    const marker = randomUUID();
    await send(message(marker));
    await delivered(marker);
    expect(
      stack.log.entries.some(
        (entry) => entry.message === 'job sent' && entry.attributes.keyId === LOCAL_ENV_KEY_ID,
      ),
    ).toBe(true);
  });
});
