import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep, startTestStack, type TestStack, testConfig } from '../support/local-stack';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

/** RFC 3339 UTC to the second, `ms` from now, rounded up so that the time is never in the past. */
function inMs(ms: number): { iso: string; atMs: number } {
  const atMs = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { iso: new Date(atMs).toISOString().replace('.000Z', 'Z'), atMs };
}

/**
 * The path AWS takes for mail scheduled up to 15 minutes ahead: the mail queue with SQS DelaySeconds, held back
 * by the queue itself (fauxqs honours DelaySeconds), not by a scheduler. A stack that keeps no state takes it.
 */
describe('Scheduled send through the SQS delay (fauxqs DelaySeconds), as on AWS up to 15 minutes', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function send(marker: string, scheduledAt: string) {
    return fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        from: 'Shop <orders@example.com>',
        to: 'customer@example.org',
        subject: `Reminder ${marker}`,
        text: `Your appointment ${marker}`,
        scheduledAt,
      }),
    });
  }

  async function delayedOnQueue(): Promise<number> {
    const result = await stack.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: stack.resources.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessagesDelayed'],
      }),
    );
    return Number(result.Attributes?.ApproximateNumberOfMessagesDelayed ?? 0);
  }

  const copies = async (marker: string) =>
    (await stack.sesEmails()).filter((email) => email.body.text?.includes(marker));

  it('holds a mail scheduled 3 seconds ahead on the queue and sends it after its time, not before, once', async () => {
    // Prepare
    const marker = randomUUID();
    const { iso, atMs } = inMs(3_000);

    // Act
    const response = await send(marker, iso);

    // Assess: the queue holds it back; the local scheduler has nothing
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'scheduled', scheduledAt: iso });
    expect(await delayedOnQueue()).toBe(1);
    expect(stack.scheduler.pending()).toEqual([]);
    await sleep(Math.max(0, atMs - Date.now() - 400));
    expect(await copies(marker)).toHaveLength(0);
    const email = await eventually(async () => (await copies(marker))[0], 8_000, marker);
    // The SES emulator stamps mail in whole seconds.
    expect(email.at * 1000).toBeGreaterThanOrEqual(atMs);
    expect(await delayedOnQueue()).toBe(0);
    await sleep(1_000);
    expect(await copies(marker)).toHaveLength(1);
  });

  it('drops the delayed job of a mail canceled before its time (the queue cannot take it back)', async () => {
    // Prepare
    const marker = randomUUID();
    const { iso, atMs } = inMs(2_000);
    const response = await send(marker, iso);
    const { id } = (await response.json()) as { id: string };

    // Act
    const cancel = await fetch(`${stack.apiUrl}/v1/messages/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}` },
    });

    // Assess: the job still comes off the queue, at its time, and the relay drops it
    expect(cancel.status).toBe(200);
    const dropped = () =>
      stack.log.entries.some(
        (entry) => entry.message === 'scheduled job canceled; dropping it' && entry.attributes?.jobId === id,
      );
    await sleep(Math.max(0, atMs - Date.now() - 400));
    expect(dropped()).toBe(false);
    await eventually(async () => (dropped() ? true : undefined), 6_000, 'the relay dropping the job');
    expect(await copies(marker)).toHaveLength(0);
  });

  it('gives a mail more than 15 minutes ahead to the scheduler instead (EventBridge Scheduler on AWS)', async () => {
    // Act
    const response = await send(randomUUID(), inMs(16 * 60_000).iso);
    const { id } = (await response.json()) as { id: string };

    // Assess
    expect(response.status).toBe(202);
    expect(stack.scheduler.pending().map((schedule) => schedule.id)).toEqual([id]);
  });
});
