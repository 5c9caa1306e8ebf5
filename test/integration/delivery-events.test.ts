import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../functions/adapters/aws-clients';
import { DynamoMessageStore } from '../../functions/adapters/dynamodb-messages';
import { DynamoSuppressionList } from '../../functions/adapters/dynamodb-suppression';
import { SIMULATOR } from '../../local/ses-events';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

interface StatusBody {
  status: string;
  history: Array<{ status: string; at: string; detail?: string }>;
}

describe('Delivery events on the local stack (SES emulator + LocalSesEvents + events handler)', () => {
  let stack: TestStack;
  let suppression: DynamoSuppressionList;
  let messages: DynamoMessageStore;
  let destroy: () => void;

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
    const dynamodb = createDynamoClient({
      region: 'us-east-1',
      endpoints: { dynamodb: stack.endpoints.dynamodb },
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    destroy = () => dynamodb.destroy();
    suppression = new DynamoSuppressionList(dynamodb, stack.resources.tableName);
    messages = new DynamoMessageStore(dynamodb, stack.resources.tableName, 30);
  });

  afterAll(async () => {
    destroy?.();
    await stack?.stop();
  });

  function send(to: string | string[], extra: Record<string, unknown> = {}) {
    return fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        from: 'orders@example.com',
        to,
        subject: 'Receipt',
        text: `Thank you ${randomUUID()}`,
        ...extra,
      }),
    });
  }

  async function sentId(to: string | string[]): Promise<string> {
    const response = await send(to);
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  }

  function statusBecomes(id: string, status: string): Promise<StatusBody> {
    return eventually(
      async () => {
        const response = await fetch(`${stack.apiUrl}/v1/messages/${id}`, {
          headers: { authorization: `Bearer ${API_KEY}` },
        });
        const body = (await response.json()) as StatusBody;
        return body.status === status ? body : undefined;
      },
      8_000,
      `status ${status}`,
    );
  }

  it('marks a sent message delivered, after sent, with the delivery time and masked recipient', async () => {
    const id = await sentId('customer@example.org');

    const body = await statusBecomes(id, 'delivered');

    const statuses = body.history.map((change) => change.status);
    expect(statuses).toEqual(expect.arrayContaining(['queued', 'sent', 'delivered']));
    expect(statuses.at(-1)).toBe('delivered');
    const delivered = body.history.at(-1);
    expect(delivered?.detail).toBe('to c***@example.org');
    expect(Date.parse(delivered?.at ?? '')).not.toBeNaN();
  });

  it("logs the events function's lines for a delivered message with the API request's correlation id", async () => {
    // Act
    const id = await sentId('traced@example.org');
    await statusBecomes(id, 'delivered');

    // Assess: the request's line, the relay's and the events function's all name the same request
    const lines = (message: string) =>
      stack.log.entries.filter((entry) => entry.message === message && entry.attributes.jobId === id);
    const accepted = lines('message accepted');
    expect(accepted).toHaveLength(1);
    const correlationId = accepted[0]?.attributes.correlationId;
    expect(correlationId).toEqual(expect.stringMatching(/^[A-Za-z0-9_.@-]{8,}$/));
    expect(lines('job sent').map((entry) => entry.attributes.correlationId)).toEqual([correlationId]);
    const recorded = await eventually(
      async () => {
        const found = lines('delivery event recorded');
        return found.length > 0 ? found : undefined;
      },
      4_000,
      'the delivery event line',
    );
    expect(recorded.map((entry) => entry.attributes)).toEqual([
      expect.objectContaining({ correlationId, eventType: 'Delivery', outcome: 'delivered' }),
    ]);
  });

  it('marks mail to the bounce simulator bounced, suppresses it, and refuses the next send with 422', async () => {
    const id = await sentId(SIMULATOR.bounce);

    const body = await statusBecomes(id, 'bounced');

    expect(body.history.at(-1)?.detail).toBe('Permanent (General): b***@simulator.amazonses.com');
    expect(await suppression.has(SIMULATOR.bounce)).toBe(true);
    const again = await send(['someone@example.org'], { cc: 'Bounce@Simulator.AmazonSES.com' });
    expect(again.status).toBe(422);
    expect(again.headers.get('content-type')).toBe('application/problem+json');
    expect(await again.json()).toMatchObject({
      status: 422,
      errors: [
        {
          field: 'cc',
          detail: expect.stringMatching(/^bounce@simulator\.amazonses\.com is on the suppression list/i),
        },
      ],
    });
  });

  it('marks mail to the complaint simulator delivered then complained, and suppresses the address', async () => {
    const id = await sentId(SIMULATOR.complaint);

    const body = await statusBecomes(id, 'complained');

    const statuses = body.history.map((change) => change.status);
    expect(statuses.indexOf('delivered')).toBeGreaterThan(-1);
    expect(statuses.indexOf('complained')).toBeGreaterThan(statuses.indexOf('delivered'));
    expect(await suppression.has(SIMULATOR.complaint)).toBe(true);
    const again = await send(SIMULATOR.complaint);
    expect(again.status).toBe(422);
    expect(await again.json()).toMatchObject({ errors: [{ field: 'to' }] });
  });

  it('marks mail to the suppression-list simulator bounced (OnAccountSuppressionList) and suppresses it', async () => {
    const id = await sentId(SIMULATOR.suppressionList);

    const body = await statusBecomes(id, 'bounced');

    expect(body.history.at(-1)?.detail).toMatch(/^Permanent \(OnAccountSuppressionList\)/);
    expect(await suppression.has(SIMULATOR.suppressionList)).toBe(true);
  });

  it('keeps an outcome in DynamoDB when the relay writes sent after it, and ignores unknown messages', async () => {
    const id = randomUUID();
    await messages.record(id, { status: 'sending', at: '2025-01-15T12:00:00.000Z' }, { keyId: 'key_x' });

    const recorded = await messages.recordOutcome(id, {
      status: 'delivered',
      at: '2025-01-15T12:00:01.000Z',
    });
    await messages.record(id, { status: 'sent', at: '2025-01-15T12:00:02.000Z', detail: 'ses-1' });
    const unknown = await messages.recordOutcome(randomUUID(), {
      status: 'bounced',
      at: '2025-01-15T12:00:01.000Z',
    });

    expect(recorded).toBe(true);
    expect(unknown).toBe(false);
    const record = await messages.get(id);
    expect(record?.status).toBe('delivered');
    expect(record?.keyId).toBe('key_x');
    expect(record?.history.map((change) => change.status)).toEqual(['sending', 'delivered', 'sent']);
  });

  it('refuses a suppressed recipient in a batch message and queues the others', async () => {
    await suppression.add({ address: 'gone@example.org', reason: 'bounce', at: new Date().toISOString() });

    const response = await fetch(`${stack.apiUrl}/v1/send/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        messages: [
          { from: 'orders@example.com', to: 'ok@example.org', subject: 'A', text: 'a' },
          {
            from: 'orders@example.com',
            to: 'ok@example.org',
            bcc: 'gone@example.org',
            subject: 'B',
            text: 'b',
          },
        ],
      }),
    });

    expect(response.status).toBe(200);
    const { results } = (await response.json()) as {
      results: Array<{ index: number; id?: string; errors?: Array<{ field: string; detail: string }> }>;
    };
    expect(results[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(results[1]?.errors).toEqual([
      { field: 'bcc', detail: expect.stringContaining('gone@example.org is on the suppression list') },
    ]);
  });
});
