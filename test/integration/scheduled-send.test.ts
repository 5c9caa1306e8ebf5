import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../functions/adapters/aws-clients';
import { DynamoScheduleStore } from '../../functions/adapters/dynamodb-schedules';
import { FIXTURE_CONFIG_FILE, shippedConfigInput } from '../fakes/config';
import { runCliCaptured } from '../support/cli';
import { eventually, sleep, startTestStack, type TestStack, testConfig } from '../support/local-stack';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

/** RFC 3339 UTC to the second, `ms` from now, rounded up so that the time is never in the past. */
function inMs(ms: number): { iso: string; atMs: number } {
  const atMs = Math.ceil((Date.now() + ms) / 1000) * 1000;
  return { iso: new Date(atMs).toISOString().replace('.000Z', 'Z'), atMs };
}

describe('Scheduled send against the local stack (local scheduler, dynalite, fauxqs, SES emulator)', () => {
  let stack: TestStack;
  let schedules: DynamoScheduleStore;

  beforeAll(async () => {
    // Every wait through the local scheduler (as `npm start` with its state folder does); the SQS-delay path
    // that AWS takes for short waits is scheduled-queue-delay.test.ts's.
    stack = await startTestStack(testConfig(), { apiKey: API_KEY, maxQueueDelaySeconds: 0 });
    const dynamodb = createDynamoClient({
      region: 'us-east-1',
      endpoints: { dynamodb: stack.endpoints.dynamodb },
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    schedules = new DynamoScheduleStore(dynamodb, stack.resources.tableName, 30);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    return fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}`, ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  function message(marker: string, scheduledAt?: string) {
    return {
      from: 'Shop <orders@example.com>',
      to: 'customer@example.org',
      subject: `Reminder ${marker}`,
      text: `Your appointment ${marker}`,
      ...(scheduledAt === undefined ? {} : { scheduledAt }),
    };
  }

  async function schedule(marker: string, scheduledAt: string): Promise<string> {
    const response = await call('POST', '/v1/send', message(marker, scheduledAt));
    const body = (await response.json()) as { id: string; status: string; scheduledAt: string };
    expect(response.status).toBe(202);
    expect(body).toMatchObject({ status: 'scheduled', scheduledAt });
    return body.id;
  }

  const copies = async (marker: string) =>
    (await stack.sesEmails()).filter((email) => email.body.text?.includes(marker));

  const delivered = (marker: string, timeoutMs = 8_000) =>
    eventually(async () => (await copies(marker))[0], timeoutMs, marker);

  async function status(id: string) {
    const response = await call('GET', `/v1/messages/${id}`);
    return (await response.json()) as {
      status: string;
      scheduledAt?: string;
      history: Array<{ status: string; at: string }>;
    };
  }

  it('sends a mail scheduled 2 seconds ahead after its time, not before', async () => {
    const marker = randomUUID();
    const { iso, atMs } = inMs(2_000);
    const id = await schedule(marker, iso);
    expect(await status(id)).toMatchObject({ status: 'scheduled', scheduledAt: iso });
    await sleep(Math.max(0, atMs - Date.now() - 400));
    expect(await copies(marker)).toHaveLength(0);
    const email = await delivered(marker);
    // The SES emulator stamps mail in whole seconds.
    expect(email.at * 1000).toBeGreaterThanOrEqual(atMs);
    const record = await status(id);
    const sending = record.history.find((change) => change.status === 'sending');
    expect(Date.parse(sending?.at ?? '')).toBeGreaterThanOrEqual(atMs);
  });

  it('refuses a time without an offset, in the past, or beyond schedule.maxDays with 422 naming scheduledAt', async () => {
    const noOffset = new Date(Date.now() + 60_000).toISOString().slice(0, 19);
    const past = new Date(Date.now() - 60_000).toISOString();
    const tooFar = new Date(Date.now() + 31 * 86_400_000).toISOString();
    for (const scheduledAt of [noOffset, past, tooFar, '2026-02-30T10:00:00Z', 'tomorrow']) {
      const response = await call('POST', '/v1/send', message('refused', scheduledAt));
      expect(response.status, scheduledAt).toBe(422);
      const problem = (await response.json()) as { errors: Array<{ field: string }> };
      expect(problem.errors.map((error) => error.field)).toEqual(['scheduledAt']);
    }
  });

  it('never sends a canceled mail, even when its schedule fires after the cancel', async () => {
    const marker = randomUUID();
    const { iso, atMs } = inMs(2_000);
    const id = await schedule(marker, iso);
    const job = await schedules.job(id);
    const canceled = await call('POST', `/v1/messages/${id}/cancel`, undefined, {
      'idempotency-key': `c-${id}`,
    });
    expect(canceled.status).toBe(200);
    expect(await canceled.json()).toEqual({ id, status: 'canceled' });
    // The same cancel again, with its Idempotency-Key: the same answer; without it: 409 and the status.
    const replayed = await call('POST', `/v1/messages/${id}/cancel`, undefined, {
      'idempotency-key': `c-${id}`,
    });
    expect(replayed.status).toBe(200);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    // The cancel's key used for another operation (a move): 422 naming the header, as the IETF draft says.
    const reused = await call(
      'PATCH',
      `/v1/messages/${id}`,
      { scheduledAt: inMs(60_000).iso },
      { 'idempotency-key': `c-${id}` },
    );
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ errors: [{ field: 'Idempotency-Key' }] });
    const again = await call('POST', `/v1/messages/${id}/cancel`);
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ messageStatus: 'canceled' });
    // A schedule that fires anyway (its delete failed, or it fired twice): the relay drops it.
    await stack.sendRaw(job ?? '');
    await sleep(Math.max(0, atMs - Date.now()) + 1_500);
    expect(await copies(marker)).toHaveLength(0);
    expect(
      stack.log.entries.some(
        (entry) => entry.attributes?.jobId === id && entry.attributes.outcome === 'canceled',
      ),
    ).toBe(true);
    expect((await status(id)).status).toBe('canceled');
  });

  it('answers an Idempotency-Key replay of a scheduled send exactly as the first, also after a cancel', async () => {
    // Prepare
    const marker = randomUUID();
    const { iso } = inMs(60_000);
    const headers = { 'idempotency-key': `reminder-${marker}` };
    const first = await call('POST', '/v1/send', message(marker, iso), headers);
    const firstBody = await first.text();

    // Act: the same request again, then again once the message is canceled
    const replayed = await call('POST', '/v1/send', message(marker, iso), headers);
    const { id } = JSON.parse(firstBody) as { id: string };
    expect((await call('POST', `/v1/messages/${id}/cancel`)).status).toBe(200);
    const afterCancel = await call('POST', '/v1/send', message(marker, iso), headers);

    // Assess
    expect(first.status).toBe(202);
    expect(JSON.parse(firstBody)).toEqual({ id, status: 'scheduled', scheduledAt: iso });
    for (const replay of [replayed, afterCancel]) {
      expect(replay.status).toBe(202);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(await replay.text()).toBe(firstBody);
    }
    expect((await status(id)).status).toBe('canceled');
  });

  it('moves a scheduled mail to a later time with PATCH, and sends it then, once', async () => {
    const marker = randomUUID();
    const first = inMs(1_500);
    const id = await schedule(marker, first.iso);
    const later = inMs(3_500);
    const moved = await call('PATCH', `/v1/messages/${id}`, { scheduledAt: later.iso });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toEqual({ id, status: 'scheduled', scheduledAt: later.iso });
    await sleep(Math.max(0, later.atMs - Date.now() - 400));
    expect(await copies(marker)).toHaveLength(0);
    const email = await delivered(marker);
    expect(email.at * 1000).toBeGreaterThanOrEqual(later.atMs);
    await sleep(1_000);
    expect(await copies(marker)).toHaveLength(1);
    const refused = await call('PATCH', `/v1/messages/${id}`, { scheduledAt: inMs(60_000).iso });
    expect(refused.status).toBe(409);
    const bad = await call('PATCH', `/v1/messages/${id}`, { scheduledAt: '2030-01-01T10:00:00' });
    expect(bad.status).toBe(422);
  });

  it("drops the old time's job of a moved mail when it fires anyway", async () => {
    const marker = randomUUID();
    const id = await schedule(marker, inMs(2_000).iso);
    const oldJob = (await schedules.job(id)) ?? '';
    const moved = await call('PATCH', `/v1/messages/${id}`, { scheduledAt: inMs(60_000).iso });
    expect(moved.status).toBe(200);
    // The old schedule fires (its delete failed, say): superseded, not sent.
    await stack.sendRaw(oldJob);
    await eventually(async () =>
      stack.log.entries.some(
        (entry) => entry.attributes?.jobId === id && entry.attributes.outcome === 'superseded',
      )
        ? true
        : undefined,
    );
    expect(await copies(marker)).toHaveLength(0);
    expect((await status(id)).status).toBe('scheduled');
    expect((await call('POST', `/v1/messages/${id}/cancel`)).status).toBe(200);
  });

  it('answers 409 with the current status to a cancel after the mail was sent', async () => {
    const marker = randomUUID();
    const id = await schedule(marker, inMs(1_000).iso);
    await delivered(marker);
    await eventually(async () =>
      (await status(id)).status !== 'scheduled' && (await status(id)).status !== 'sending' ? true : undefined,
    );
    const response = await call('POST', `/v1/messages/${id}/cancel`);
    expect(response.status).toBe(409);
    const problem = (await response.json()) as { messageStatus: string };
    expect(['sent', 'delivered']).toContain(problem.messageStatus);
  });

  it('takes a batch with mixed schedules: now, later, and a refused time', async () => {
    const [now, later, refused] = [randomUUID(), randomUUID(), randomUUID()];
    const { iso, atMs } = inMs(2_000);
    const response = await call('POST', '/v1/send/batch', {
      messages: [message(now), message(later, iso), message(refused, '2020-01-01T00:00:00Z')],
    });
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as {
      results: Array<{ index: number; id?: string; status?: string; errors?: Array<{ field: string }> }>;
    };
    expect(results[0]?.id).toBeDefined();
    expect(results[0]?.status).toBeUndefined();
    expect(results[1]).toMatchObject({ status: 'scheduled', scheduledAt: iso });
    expect(results[2]?.errors?.map((error) => error.field)).toEqual(['scheduledAt']);
    await delivered(now);
    expect(await copies(later)).toHaveLength(0);
    const email = await delivered(later);
    expect(email.at * 1000).toBeGreaterThanOrEqual(atMs);
    await sleep(500);
    expect(await copies(refused)).toHaveLength(0);
  });

  it('never sends a mail whose cancel answered 200, when cancel and schedule race (many runs)', async () => {
    const runs = 24;
    const { iso, atMs } = inMs(3_000);
    const markers = Array.from({ length: runs }, () => randomUUID());
    const ids = await Promise.all(markers.map((marker) => schedule(marker, iso)));
    const jobs = await Promise.all(ids.map((id) => schedules.job(id)));
    // Each schedule fires a second time at once, and its cancel comes 0 to 1.9 s after: some win, some lose.
    await sleep(Math.max(0, atMs - Date.now() - 150));
    const answers = await Promise.all(
      ids.map(async (id, index) => {
        const [response] = await Promise.all([
          sleep(index * 80).then(() => call('POST', `/v1/messages/${id}/cancel`)),
          stack.sendRaw(jobs[index] ?? ''),
        ]);
        return response.status;
      }),
    );
    expect(answers.every((answer) => answer === 200 || answer === 409)).toBe(true);
    await sleep(3_000);
    const counts = await Promise.all(markers.map(async (marker) => (await copies(marker)).length));
    for (const [index, answer] of answers.entries()) {
      expect(counts[index], `run ${index} answered ${answer}`).toBe(answer === 200 ? 0 : 1);
    }
  });

  it('lists scheduled messages and cancels one with the CLI: never sent, and exit 1 the second time', async () => {
    // The fixture's configuration, never the project's cdk.json: cancel reads its webhook endpoints (none).
    const cli = (...argv: string[]) =>
      runCliCaptured([...argv, '--endpoint', stack.endpoints.dynamodb, '--config', FIXTURE_CONFIG_FILE]);
    const marker = randomUUID();
    const { iso, atMs } = inMs(2_000);
    const id = await schedule(marker, iso);
    // A configuration whose endpoint takes email.canceled, against a stack without a webhook queue: refused
    // before anything changes (exit 3, naming the queue), so no cancel goes unannounced.
    const dir = mkdtempSync(path.join(tmpdir(), 'postroom-scheduled-'));
    const withHooks = path.join(dir, 'postroom.hooks.json');
    writeFileSync(
      withHooks,
      JSON.stringify({
        ...shippedConfigInput(),
        webhooks: [
          {
            id: 'sched',
            url: 'https://hooks.example.com/sched',
            events: ['email.canceled'],
            secret: 'postroom/webhooks/sched',
          },
        ],
      }),
    );
    const unannounced = await runCliCaptured([
      'scheduled',
      'cancel',
      id,
      '--endpoint',
      stack.endpoints.dynamodb,
      '--sqs-endpoint',
      stack.endpoints.sqs,
      '--config',
      withHooks,
    ]);
    expect(unannounced.code).toBe(3);
    expect(unannounced.err).toContain('has no queue');
    expect((await status(id)).status).toBe('scheduled');
    const listed = await cli('scheduled', 'list', '--json');
    expect(listed.code).toBe(0);
    expect(
      (JSON.parse(listed.out) as { scheduled: Array<{ id: string; scheduledAt: string }> }).scheduled,
    ).toContainEqual(expect.objectContaining({ id, scheduledAt: iso }));
    expect((await cli('scheduled', 'list')).out).toContain(id);
    expect(await cli('scheduled', 'cancel', id)).toMatchObject({ code: 0 });
    expect(await cli('scheduled', 'cancel', id)).toMatchObject({ code: 1 });
    expect(await cli('scheduled', 'cancel', 'not-an-id')).toMatchObject({ code: 2 });
    await sleep(Math.max(0, atMs - Date.now()) + 1_500);
    expect(await copies(marker)).toHaveLength(0);
    expect((await status(id)).status).toBe('canceled');
  });

  it('sends once when the schedule fires twice', async () => {
    const marker = randomUUID();
    const { iso, atMs } = inMs(1_000);
    const id = await schedule(marker, iso);
    const job = (await schedules.job(id)) ?? '';
    await sleep(Math.max(0, atMs - Date.now()));
    await Promise.all([stack.sendRaw(job), stack.sendRaw(job)]);
    await delivered(marker);
    await sleep(1_500);
    expect(await copies(marker)).toHaveLength(1);
  });
});
