import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoClaimStore } from '../../functions/adapters/dynamodb-claims';
import { ATTRIBUTE } from '../../functions/adapters/queue-attributes';
import type { PostroomConfig } from '../../functions/core/config/config';
import { buildFormMailJob } from '../../functions/core/forms/form-mail';
import { validateSubmission } from '../../functions/core/forms/form-submission';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import { eventually, sleep, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { shippedTemplatesNow } from '../support/templates';

function jobBody(config: PostroomConfig, marker: string): { id: string; body: string } {
  const form = config.forms[0];
  if (!form) throw new Error('the test config has no form');
  const submission = validateSubmission(
    [
      ['email', 'dup@example.org'],
      ['message', `Once only ${marker}`],
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
}

describe('Relay: exactly-once sending on an at-least-once queue (dynalite claims)', () => {
  const config = testConfig();
  let stack: TestStack;
  let dynamodb: DynamoDBClient;

  beforeAll(async () => {
    stack = await startTestStack(config);
    dynamodb = new DynamoDBClient({
      region: config.region,
      endpoint: stack.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
  });

  afterAll(async () => {
    dynamodb?.destroy();
    await stack?.stop();
  });

  const copiesOf = async (marker: string) =>
    (await stack.sesEmails()).filter((email) => email.body.text?.includes(marker)).length;

  it('sends a job delivered twice at the same moment only once', async () => {
    const marker = randomUUID();
    const { id, body } = jobBody(config, marker);

    await Promise.all([stack.sendRaw(body), stack.sendRaw(body)]);

    await eventually(async () => ((await copiesOf(marker)) > 0 ? true : undefined), 5_000, 'first delivery');
    // The second copy waits for the first attempt's claim, then finds the job sent and is dropped.
    await eventually(
      async () =>
        stack.log.entries.find((l) => l.attributes.jobId === id && l.attributes.outcome === 'duplicate'),
      10_000,
      'the duplicate to be dropped',
    );
    await stack.drained(stack.resources.queueUrl);
    expect(await copiesOf(marker)).toBe(1);
  }, 15_000);

  it('does not send again when a job that was sent is redelivered later', async () => {
    const marker = randomUUID();
    const { id, body } = jobBody(config, marker);
    await stack.sendRaw(body);
    await eventually(async () => ((await copiesOf(marker)) === 1 ? true : undefined), 5_000, 'delivery');

    await stack.sendRaw(body);

    await eventually(
      async () =>
        stack.log.entries.find((l) => l.attributes.jobId === id && l.attributes.outcome === 'duplicate'),
      5_000,
      'the redelivery to be dropped',
    );
    await stack.drained(stack.resources.queueUrl);
    expect(await copiesOf(marker)).toBe(1);
  });

  it('retries a job whose claim was left by a crashed attempt once the claim expires', async () => {
    const marker = randomUUID();
    const { id, body } = jobBody(config, marker);
    // An attempt claimed the job and died before sending: its lease runs 2.5 s more.
    const claims = new DynamoClaimStore(dynamodb, stack.resources.tableName, 30);
    const now = Date.now();
    expect(await claims.claim(id, now, now + 2_500)).toEqual({
      kind: 'claimed',
      attempt: 1,
      settled: { delivered: [], refused: [] },
    });

    await stack.sendRaw(body);

    await sleep(1_500);
    expect(await copiesOf(marker)).toBe(0);
    await eventually(
      async () => ((await copiesOf(marker)) === 1 ? true : undefined),
      6_000,
      'delivery after the lease',
    );
    await stack.drained(stack.resources.queueUrl);
    expect(await copiesOf(marker)).toBe(1);
  }, 12_000);

  it('gives the next claim of a failed job the reason and the recipients it was refused for', async () => {
    const claims = new DynamoClaimStore(dynamodb, stack.resources.tableName, 30);
    const id = randomUUID();
    const now = Date.now();
    await claims.claim(id, now, now + 30_000);
    const reason = 'every recipient was refused: 550 5.1.1 mailbox unavailable';
    await claims.fail(id, reason, now + 1, { delivered: [], refused: ['a@example.org'] });

    expect(await claims.claim(id, now + 2, now + 30_000)).toEqual({
      kind: 'claimed',
      attempt: 2,
      settled: { delivered: [], refused: ['a@example.org'] },
      reason,
    });
  });

  it('dead-letters a message that is not a MailJob, with the reason', async () => {
    await stack.sendRaw('{"v":99,"id":"not-a-job"}');

    const [letter] = await stack.deadLetters(5_000);
    expect(letter?.body).toBe('{"v":99,"id":"not-a-job"}');
    expect(letter?.attributes[ATTRIBUTE.reason]).toMatch(/^invalid-job: /);
    await stack.drained(stack.resources.queueUrl);
  });
});
