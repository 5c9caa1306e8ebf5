import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../functions/adapters/aws-clients';
import { DynamoApiKeyStore } from '../../functions/adapters/dynamodb-api-keys';
import { DynamoGuardStore } from '../../functions/adapters/dynamodb-guards';
import { DynamoMessageStore } from '../../functions/adapters/dynamodb-messages';
import { SqsMailQueue } from '../../functions/adapters/sqs-queue';
import { hashApiKey } from '../../functions/core/api/api-keys';
import { type SendApiDeps, sendMessage } from '../../functions/core/api/send-api';
import type { HttpRequest } from '../../functions/core/http';
import { type MailQueue, systemClock } from '../../functions/core/ports';
import { LOCAL_ENV_KEY_ID } from '../../local/stack';
import { RecordingLog, RecordingMetrics } from '../fakes/ports';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { shippedCatalog } from '../support/templates';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;
const OTHER_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

/**
 * The send function writes `queued` while it enqueues, so the relay may write first, and a failed status
 * write does not refuse the mail. Real peers: dynalite for the table, fauxqs for the queues, the local
 * stack's relay and API.
 */
describe('Message status when queued and the relay race (dynalite, fauxqs)', () => {
  let stack: TestStack;
  let dynamodb: DynamoDBClient;
  let messages: DynamoMessageStore;

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
    dynamodb = createDynamoClient({
      region: 'us-east-1',
      endpoints: { dynamodb: stack.endpoints.dynamodb },
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    messages = new DynamoMessageStore(dynamodb, stack.resources.tableName, 30);
    await new DynamoApiKeyStore(dynamodb, stack.resources.tableName).create({
      keyId: 'key_other',
      name: 'other',
      hash: hashApiKey(OTHER_KEY),
      createdAt: new Date().toISOString(),
      revoked: false,
    });
  });

  afterAll(async () => {
    dynamodb?.destroy();
    await stack?.stop();
  });

  /** The API's core with real adapters; the test chooses the queue and the status store. */
  function apiDeps(queue: MailQueue, status: DynamoMessageStore) {
    const log = new RecordingLog();
    const deps: SendApiDeps = {
      config: testConfig(),
      queue,
      clock: systemClock,
      newId: randomUUID,
      log,
      metrics: new RecordingMetrics(),
      guards: new DynamoGuardStore(dynamodb, stack.resources.tableName),
      apiKeys: new DynamoApiKeyStore(dynamodb, stack.resources.tableName),
      messages: status,
      templates: shippedCatalog,
    };
    return { deps, log };
  }

  function sendRequest(marker: string, headers: Record<string, string> = {}): HttpRequest {
    return {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, ...headers },
      body: Buffer.from(
        JSON.stringify({
          from: 'Shop <orders@example.com>',
          to: 'customer@example.org',
          subject: `Receipt ${marker}`,
          text: `Thank you ${marker}`,
        }),
      ),
      sourceIp: '127.0.0.1',
    };
  }

  async function readStatus(id: string, key: string) {
    const response = await fetch(`${stack.apiUrl}/v1/messages/${id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function ownQueue(): Promise<string> {
    const created = await stack.sqs.send(new CreateQueueCommand({ QueueName: `accept-${randomUUID()}` }));
    return created.QueueUrl ?? '';
  }

  it('keeps the status the relay wrote when the initial queued lands after it, and reads history in time order', async () => {
    // Prepare: the relay's `sending` (later in time) reaches the table before the send function's `queued`.
    const id = randomUUID();
    await messages.record(id, { status: 'sending', at: '2026-11-28T10:00:00.050Z', detail: 'attempt 1' });

    // Act
    await messages.recordInitial(id, { status: 'queued', at: '2026-11-28T10:00:00.010Z' }, { keyId: 'k1' });

    // Assess
    const record = await messages.get(id);
    expect(record?.status).toBe('sending');
    expect(record?.keyId).toBe('k1');
    expect(record?.history).toEqual([
      { status: 'queued', at: '2026-11-28T10:00:00.010Z' },
      { status: 'sending', at: '2026-11-28T10:00:00.050Z', detail: 'attempt 1' },
    ]);
  });

  it("sets the initial queued on a new message, and the relay's retry queued still replaces sending", async () => {
    // Prepare
    const id = randomUUID();
    await messages.recordInitial(id, { status: 'queued', at: '2026-11-28T10:00:00.000Z' });
    expect((await messages.get(id))?.status).toBe('queued');
    await messages.record(id, { status: 'sending', at: '2026-11-28T10:00:00.100Z' });

    // Act
    await messages.record(id, { status: 'queued', at: '2026-11-28T10:00:00.200Z', detail: 'will retry: x' });

    // Assess
    const record = await messages.get(id);
    expect(record?.status).toBe('queued');
    expect(record?.history.map((change) => change.status)).toEqual(['queued', 'sending', 'queued']);
  });

  it('answers 202 and queues the message once when the status write fails; the relay then records it for its owner', async () => {
    // Prepare: a status store whose table does not exist, so dynalite refuses every status write.
    const queueUrl = await ownQueue();
    const lostStatus = new DynamoMessageStore(dynamodb, `missing-${randomUUID()}`, 30);
    const { deps, log } = apiDeps(new SqsMailQueue(stack.sqs, queueUrl), lostStatus);
    const marker = randomUUID();

    // Act
    const response = await sendMessage(sendRequest(marker), deps);

    // Assess: accepted, on the queue exactly once, the lost status logged.
    expect(response.status).toBe(202);
    const { id } = JSON.parse(response.body) as { id: string };
    expect(await stack.depth(queueUrl)).toBe(1);
    expect(log.entries.find((entry) => entry.attributes.outcome === 'status-failed')?.attributes.jobId).toBe(
      id,
    );
    expect(await messages.get(id)).toBeUndefined();

    // Act: the job reaches the stack's relay, which writes its statuses with the owning key.
    const [job] = await stack.receive(queueUrl);
    await stack.sendRaw(job?.body ?? '');

    // Assess: readable by the key that sent it, without a `queued` entry; other keys get 404.
    const read = await eventually(
      async () => {
        const current = await readStatus(id, API_KEY);
        return current.status === 200 && current.body.status === 'delivered' ? current : undefined;
      },
      5_000,
      'the relayed message readable by its key',
    );
    const history = read.body.history as Array<{ status: string; at: string }>;
    expect(history.map((change) => change.status)).toEqual(['sent', 'delivered']);
    expect((await messages.get(id))?.keyId).toBe(LOCAL_ENV_KEY_ID);
    expect((await readStatus(id, OTHER_KEY)).status).toBe(404);
    await stack.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  });

  it('answers 503, queues nothing and records failed when the enqueue fails; a retry with the same key sends', async () => {
    // Prepare: a queue that no longer exists.
    const goneUrl = await ownQueue();
    await stack.sqs.send(new DeleteQueueCommand({ QueueUrl: goneUrl }));
    const { deps, log } = apiDeps(new SqsMailQueue(stack.sqs, goneUrl), messages);
    const marker = randomUUID();
    const idempotency = { 'idempotency-key': `order-${marker}` };

    // Act
    const response = await sendMessage(sendRequest(marker, idempotency), deps);

    // Assess
    expect(response.status).toBe(503);
    const id = log.entries.find((entry) => entry.attributes.outcome === 'enqueue-failed')?.attributes
      .jobId as string;
    const record = await messages.get(id);
    expect(record?.status).toBe('failed');
    expect(record?.history.map((change) => change.status)).toEqual(['queued', 'failed']);
    expect(record?.keyId).toBe(LOCAL_ENV_KEY_ID);

    // Act: the caller retries with the same Idempotency-Key once the queue is back.
    const queueUrl = await ownQueue();
    const retry = await sendMessage(sendRequest(marker, idempotency), {
      ...deps,
      queue: new SqsMailQueue(stack.sqs, queueUrl),
    });

    // Assess: a new message, queued once, not a replay of the refused one.
    expect(retry.status).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect((JSON.parse(retry.body) as { id: string }).id).not.toBe(id);
    expect(await stack.depth(queueUrl)).toBe(1);
    await stack.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
  });
});
