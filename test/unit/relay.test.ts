import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PostroomConfig } from '../../functions/core/config/config';
import { PermanentSendError } from '../../functions/core/errors';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import {
  backoffSeconds,
  type RelayDeps,
  type RelayRecord,
  relayBatch,
} from '../../functions/core/relay/relay';
import { configWith, contactJob, JOB_ID, shippedConfig } from '../fakes/config';
import {
  FakeClock,
  MemoryClaimStore,
  MemoryRelayQueue,
  RecordingLog,
  RecordingMetrics,
  ScriptedTransport,
} from '../fakes/ports';

const OTHER_JOB_ID = '0b6f1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d';
const THIRD_JOB_ID = '9a8b7c6d-5e4f-4321-8fed-cba987654321';

/** SES throttling, quoting the recipient as providers do. */
function throttled(): Error {
  return Object.assign(new Error('Maximum sending rate exceeded for owner@example.com'), {
    name: 'TooManyRequestsException',
    $metadata: { httpStatusCode: 429 },
  });
}

function rejected(): Error {
  return Object.assign(new Error('Email address is not verified: owner@example.com'), {
    name: 'MessageRejected',
    $metadata: { httpStatusCode: 400 },
  });
}

function setup(config: PostroomConfig = shippedConfig()) {
  const deps = {
    config,
    transport: new ScriptedTransport(),
    claims: new MemoryClaimStore(),
    queue: new MemoryRelayQueue(),
    clock: new FakeClock(),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    random: () => 0.5,
  } satisfies RelayDeps;
  return deps;
}

function record(receiveCount = 1, id = JOB_ID, messageId = `msg-${id.slice(0, 8)}`): RelayRecord {
  return {
    messageId,
    receiptHandle: `rh-${messageId}-${receiveCount}`,
    body: serializeMailJob(contactJob(undefined, id).job),
    receiveCount,
  };
}

const OTHER_JOB = '9c3d4e5f-6a7b-4c8d-8e9f-1a2b3c4d5e6f';

describe('Core: relayBatch', () => {
  it('sends the mail once and completes the claim', async () => {
    // Prepare
    const deps = setup();
    const received = record();

    // Act
    const result = await relayBatch([received], deps);

    // Assess
    expect(result).toEqual({
      failures: [],
      outcomes: [{ messageId: received.messageId, jobId: JOB_ID, outcome: 'sent' }],
    });
    expect(deps.transport.sent).toHaveLength(1);
    const mail = deps.transport.sent[0];
    expect(mail?.jobId).toBe(JOB_ID);
    expect(mail?.from).toBe('no-reply@example.com');
    expect(mail?.to).toEqual(['owner@example.com']);
    expect(mail?.raw.toString()).toContain(`X-Postroom-Job-ID: ${JOB_ID}\r\n`);
    expect(deps.claims.records.get(JOB_ID)).toMatchObject({
      state: 'sent',
      attempts: 1,
      providerMessageId: 'provider-1',
    });
    expect(deps.queue.retries).toEqual([]);
    expect(deps.queue.deadLetters).toEqual([]);
  });

  it('claims with a lease of claimLeaseSeconds from now', async () => {
    const deps = setup();
    await relayBatch([record()], deps);
    expect(deps.claims.records.get(JOB_ID)?.leaseUntil).toBe(deps.clock.now() + 60_000);
  });

  it('treats a second delivery of a sent job as a duplicate and sends nothing', async () => {
    // Prepare
    const deps = setup();
    await relayBatch([record(1)], deps);

    // Act
    const again = await relayBatch([record(2)], deps);

    // Assess
    expect(again).toEqual({
      failures: [],
      outcomes: [{ messageId: record().messageId, jobId: JOB_ID, outcome: 'duplicate' }],
    });
    expect(deps.transport.attempts).toHaveLength(1);
  });

  it('sends a job delivered twice in one batch only once', async () => {
    const deps = setup();
    const result = await relayBatch([record(1, JOB_ID, 'copy-1'), record(1, JOB_ID, 'copy-2')], deps);
    expect(deps.transport.attempts).toHaveLength(1);
    expect(result.outcomes.map((o) => o.outcome).sort()).toEqual(['retry', 'sent']);
  });

  it('retries a busy claim after the remaining lease', async () => {
    // Prepare: another attempt holds the claim for 42.5 more seconds
    const deps = setup();
    deps.claims.seed(JOB_ID, { state: 'sending', attempts: 1, leaseUntil: deps.clock.now() + 42_500 });
    const received = record(2);

    // Act
    const result = await relayBatch([received], deps);

    // Assess
    expect(result.failures).toEqual([received.messageId]);
    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(deps.queue.retries).toEqual([{ receiptHandle: received.receiptHandle, delaySeconds: 43 }]);
    expect(deps.transport.attempts).toHaveLength(0);
  });

  it('takes over a claim whose lease ran out and sends', async () => {
    const deps = setup();
    deps.claims.seed(JOB_ID, { state: 'sending', attempts: 1, leaseUntil: deps.clock.now() - 1 });
    const result = await relayBatch([record(2)], deps);
    expect(result.outcomes[0]?.outcome).toBe('sent');
    expect(deps.claims.records.get(JOB_ID)).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it('releases the claim and retries later with backoff on a transient error', async () => {
    // Prepare
    const deps = setup();
    deps.transport.failNext(throttled());
    const received = record(2);

    // Act
    const result = await relayBatch([received], deps);

    // Assess: attempt 2 → step 20 s; random 0.5 → 10 + 5
    expect(result).toEqual({
      failures: [received.messageId],
      outcomes: [{ messageId: received.messageId, jobId: JOB_ID, outcome: 'retry' }],
    });
    expect(deps.queue.retries).toEqual([{ receiptHandle: received.receiptHandle, delaySeconds: 15 }]);
    expect(deps.claims.records.get(JOB_ID)?.state).toBe('retry');
    expect(deps.claims.calls.filter((c) => c.operation === 'release')).toEqual([
      {
        operation: 'release',
        jobId: JOB_ID,
        reason: 'ses TooManyRequestsException (429): Maximum sending rate exceeded for ***@example.com',
      },
    ]);
    expect(deps.queue.deadLetters).toEqual([]);
    expect(deps.transport.sent).toHaveLength(0);
  });

  it('sends on the next delivery after a transient error', async () => {
    const deps = setup();
    deps.transport.failNext(throttled());
    await relayBatch([record(1)], deps);
    const result = await relayBatch([record(2)], deps);
    expect(result.outcomes[0]?.outcome).toBe('sent');
    expect(deps.transport.sent).toHaveLength(1);
  });

  it('dead-letters a transient error on the last receive with the reason', async () => {
    // Prepare: the default maxReceiveCount is 5
    const deps = setup();
    deps.transport.failNext(throttled());
    const received = record(5);

    // Act
    const result = await relayBatch([received], deps);

    // Assess
    expect(result).toEqual({
      failures: [],
      outcomes: [{ messageId: received.messageId, jobId: JOB_ID, outcome: 'dead-lettered' }],
    });
    expect(deps.queue.deadLetters).toEqual([
      {
        body: received.body,
        jobId: JOB_ID,
        reason:
          'retries exhausted after 5 attempts: ses TooManyRequestsException (429): Maximum sending rate exceeded for ***@example.com',
      },
    ]);
    expect(deps.claims.records.get(JOB_ID)?.state).toBe('failed');
    expect(deps.queue.retries).toEqual([]);
    expect(deps.metrics.byDimension()).toEqual({ 'MailFailed{reason=retries-exhausted}': 1 });
  });

  it('keeps retrying before the configured maxReceiveCount', async () => {
    const deps = setup(configWith({ queue: { maxReceiveCount: 8 } }));
    deps.transport.failNext(throttled());
    const result = await relayBatch([record(5)], deps);
    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(deps.queue.deadLetters).toEqual([]);
  });

  it('counts each outcome under the shared metric names', async () => {
    // Prepare: a job that is sent, the same job again, one that fails for now, one rejected for good
    const deps = setup();
    const retried = '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const rejectedJob = '8b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e';
    deps.transport.failJob(
      retried,
      Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' }),
    );
    deps.transport.failJob(rejectedJob, rejected());

    // Act
    await relayBatch([record(1), record(1, retried), record(1, rejectedJob)], deps);
    await relayBatch([record(2)], deps);

    // Assess
    expect(deps.metrics.snapshot()).toEqual({
      MailSent: 1,
      MailRetried: 1,
      MailFailed: 1,
      DuplicateDropped: 1,
      // SES's "not verified" names the account's identities: the operator is told (docs/failover.md).
      ProviderAccountError: 1,
    });
  });

  it('records the send latency and the queue-to-sent latency of a sent job, in milliseconds', async () => {
    // Prepare: the job was created 90 s before the relay picks it up, and the provider takes 250 ms
    const deps = setup();
    const created = Date.parse(contactJob(undefined, JOB_ID).job.createdAt);
    deps.clock = new FakeClock(created + 90_000);
    const send = deps.transport.send.bind(deps.transport);
    deps.transport.send = async (mail) => {
      deps.clock.advance(250);
      return send(mail);
    };

    // Act
    await relayBatch([record(1)], deps);

    // Assess
    expect(Object.fromEntries(deps.metrics.durations)).toEqual({
      SendLatency: [250],
      QueueToSentLatency: [90_250],
    });
  });

  it('records no latency for a job that is not sent, and counts a dead-lettered job once, as MailFailed', async () => {
    // Prepare
    const deps = setup();
    deps.transport.failNext(rejected());

    // Act
    await relayBatch([record(1)], deps);

    // Assess
    expect(deps.metrics.durations.size).toBe(0);
    expect(deps.metrics.snapshot()).toEqual({ MailFailed: 1, ProviderAccountError: 1 });
    expect(deps.metrics.byDimension()).toEqual({
      'MailFailed{reason=permanent-rejection}': 1,
      'ProviderAccountError{provider=ses}': 1,
    });
  });

  it('dead-letters a permanent error after one attempt, with its reason', async () => {
    // Prepare
    const deps = setup();
    deps.transport.failNext(rejected());
    const received = record(1);

    // Act
    const result = await relayBatch([received], deps);

    // Assess
    expect(result.failures).toEqual([]);
    expect(result.outcomes[0]?.outcome).toBe('dead-lettered');
    expect(deps.transport.attempts).toHaveLength(1);
    expect(deps.queue.deadLetters).toEqual([
      {
        body: received.body,
        jobId: JOB_ID,
        reason: 'ses MessageRejected: Email address is not verified: ***@example.com',
      },
    ]);
    expect(deps.claims.records.get(JOB_ID)).toMatchObject({
      state: 'failed',
      reason: 'ses MessageRejected: Email address is not verified: ***@example.com',
    });
    expect(deps.queue.retries).toEqual([]);
  });

  it.each([
    ['not JSON', 'hello', 'invalid-job: not JSON'],
    ['another version', JSON.stringify({ ...contactJob().job, v: 2 }), 'invalid-job: v '],
  ])('dead-letters a body that is %s without claiming or sending', async (_, body, reasonStart) => {
    // Prepare
    const deps = setup();
    const received: RelayRecord = { messageId: 'm-bad', receiptHandle: 'rh-bad', body, receiveCount: 1 };

    // Act
    const result = await relayBatch([received], deps);

    // Assess
    expect(result).toEqual({
      failures: [],
      outcomes: [{ messageId: 'm-bad', jobId: undefined, outcome: 'dead-lettered' }],
    });
    expect(deps.queue.deadLetters).toHaveLength(1);
    expect(deps.queue.deadLetters[0]?.body).toBe(body);
    expect(deps.queue.deadLetters[0]?.jobId).toBeUndefined();
    expect(deps.queue.deadLetters[0]?.reason.startsWith(reasonStart)).toBe(true);
    expect(deps.claims.calls).toEqual([]);
    expect(deps.transport.attempts).toEqual([]);
    expect(deps.metrics.snapshot()).toEqual({ MailFailed: 1 });
    expect(deps.metrics.byDimension()).toEqual({ 'MailFailed{reason=invalid-job}': 1 });
  });

  it('keeps a permanently failed job on the queue when the dead-letter queue cannot take it', async () => {
    // Prepare
    const deps = setup();
    deps.transport.failNext(rejected());
    deps.queue.deadLetterError = new Error('dlq down');
    const received = record(1);

    // Act
    const result = await relayBatch([received], deps);

    // Assess: reported as a failure, so SQS keeps it; never silently dropped
    expect(result.failures).toEqual([received.messageId]);
    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(deps.log.entries.some((e) => e.level === 'error' && e.message === 'relay attempt failed')).toBe(
      true,
    );
  });

  it('keeps an unreadable body on the queue when the dead-letter queue cannot take it', async () => {
    const deps = setup();
    deps.queue.deadLetterError = new Error('dlq down');
    const result = await relayBatch(
      [{ messageId: 'm', receiptHandle: 'r', body: '{', receiveCount: 1 }],
      deps,
    );
    expect(result.failures).toEqual(['m']);
  });

  it('still dead-letters when recording the failure in the claim store fails', async () => {
    const deps = setup();
    deps.transport.failNext(rejected());
    deps.claims.failures.fail = new Error('table throttled');
    const result = await relayBatch([record(1)], deps);
    expect(result.failures).toEqual([]);
    expect(deps.queue.deadLetters).toHaveLength(1);
  });

  it('counts a send as done when completing the claim fails afterwards', async () => {
    // Prepare
    const deps = setup();
    deps.claims.failures.complete = new Error('table throttled');

    // Act
    const result = await relayBatch([record(1)], deps);

    // Assess: not retried, since a retry would send the mail a second time
    expect(result.failures).toEqual([]);
    expect(result.outcomes[0]?.outcome).toBe('sent');
    expect(deps.transport.sent).toHaveLength(1);
    expect(deps.queue.retries).toEqual([]);
    expect(deps.log.entries.map((e) => e.message)).toContain('sent, but the completion record failed');
  });

  it('reports a failure when the claim store cannot be reached, and sends nothing', async () => {
    const deps = setup();
    deps.claims.failures.claim = Object.assign(new Error('connect ECONNREFUSED'), {
      name: 'NetworkingError',
    });
    const received = record(1);
    const result = await relayBatch([received], deps);
    expect(result).toEqual({
      failures: [received.messageId],
      outcomes: [{ messageId: received.messageId, jobId: undefined, outcome: 'retry' }],
    });
    expect(deps.transport.attempts).toEqual([]);
    expect(deps.log.entries).toContainEqual({
      level: 'error',
      message: 'relay attempt failed',
      attributes: { messageId: received.messageId, outcome: 'retry', error: 'NetworkingError' },
    });
  });

  it('still reports a retry when the retry delay cannot be set', async () => {
    const deps = setup();
    deps.transport.failNext(throttled());
    deps.queue.retryLaterError = new Error('queue down');
    const result = await relayBatch([record(1)], deps);
    expect(result.failures).toEqual([record(1).messageId]);
  });

  it('dead-letters a job whose mail cannot be composed as permanent', async () => {
    const deps = setup();
    deps.transport.failNext(new PermanentSendError('cannot compose the message: Error'));
    const result = await relayBatch([record(1)], deps);
    expect(result.outcomes[0]?.outcome).toBe('dead-lettered');
    expect(deps.queue.deadLetters[0]?.reason).toBe('cannot compose the message: Error');
  });

  it('settles each record of a batch on its own', async () => {
    // Prepare
    const deps = setup();
    deps.transport.failJob(OTHER_JOB_ID, throttled());
    deps.transport.failJob(THIRD_JOB_ID, rejected());
    const batch = [
      record(1, JOB_ID),
      record(1, OTHER_JOB_ID),
      record(1, THIRD_JOB_ID),
      { messageId: 'm-bad', receiptHandle: 'rh-bad', body: 'nope', receiveCount: 1 },
    ];

    // Act
    const result = await relayBatch(batch, deps);

    // Assess
    expect(result.failures).toEqual([record(1, OTHER_JOB_ID).messageId]);
    expect(result.outcomes.map((o) => o.outcome)).toEqual([
      'sent',
      'retry',
      'dead-lettered',
      'dead-lettered',
    ]);
    expect(deps.transport.sent.map((m) => m.jobId)).toEqual([JOB_ID]);
  });

  it('never logs the message text, the subject or a full address', async () => {
    // Prepare: every path that logs, with provider errors that quote the recipient
    const deps = setup();
    deps.transport.failJob(OTHER_JOB_ID, throttled());
    deps.transport.failJob(THIRD_JOB_ID, rejected());
    deps.claims.failures.complete = new Error('table throttled');
    const batch = [record(1, JOB_ID), record(1, OTHER_JOB_ID), record(5, THIRD_JOB_ID)];
    await relayBatch(batch, deps);
    await relayBatch([record(2, JOB_ID)], deps);

    // Act
    const logged = deps.log.text();

    // Assess
    expect(deps.log.entries.length).toBeGreaterThanOrEqual(4);
    expect(logged).toContain('o***@example.com');
    for (const secret of [
      'owner@example.com',
      'visitor@example.org',
      'no-reply@example.com',
      'Hello, I would like a quote.',
      'Vera Visitor',
    ]) {
      expect(logged).not.toContain(secret);
    }
  });

  it('puts the correlation id on every line for the record and on its dead letter', async () => {
    // Prepare
    const deps = setup();
    deps.transport.failNext(rejected());
    const received = { ...record(), correlationId: 'req-1234' };

    // Act
    await relayBatch([received], deps);

    // Assess
    expect(deps.log.entries.length).toBeGreaterThan(0);
    for (const entry of deps.log.entries) expect(entry.attributes.correlationId).toBe('req-1234');
    expect(deps.queue.deadLetterCorrelationIds).toEqual(['req-1234']);
  });

  it('hands the correlation id to the transport with the mail, for the provider to send back in events', async () => {
    // Prepare
    const deps = setup();

    // Act
    await relayBatch([{ ...record(), correlationId: 'req-5678' }, record(1, OTHER_JOB)], deps);

    // Assess
    expect(deps.transport.sent.map((mail) => [mail.jobId, mail.correlationId])).toEqual([
      [JOB_ID, 'req-5678'],
      [OTHER_JOB, undefined],
    ]);
  });
});

describe('Core: backoffSeconds', () => {
  const config = shippedConfig(); // base 10 s, cap 900 s

  it('doubles with each attempt and is capped at retryMaxSeconds', () => {
    const lowest = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((attempt) => backoffSeconds(attempt, config, () => 0));
    const highest = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((attempt) =>
      backoffSeconds(attempt, config, () => 0.999_999),
    );
    expect(lowest).toEqual([5, 10, 20, 40, 80, 160, 320, 450, 450]);
    expect(highest).toEqual([10, 20, 40, 80, 160, 320, 640, 900, 900]);
  });

  it('treats attempt 0 and below as the first attempt', () => {
    expect(backoffSeconds(0, config, () => 0)).toBe(5);
    expect(backoffSeconds(-3, config, () => 0)).toBe(5);
  });

  it('stays finite and capped for a huge attempt number', () => {
    expect(backoffSeconds(5_000, config, () => 0.5)).toBe(675);
  });

  it('never exceeds the 12 hour SQS visibility limit', () => {
    const long = configWith({
      relay: { timeoutSeconds: 30, claimLeaseSeconds: 60, retryBaseSeconds: 900, retryMaxSeconds: 43_200 },
    });
    expect(backoffSeconds(100, long, () => 0.999_999)).toBe(43_200);
  });

  it('stays within [step/2, step] for any attempt, settings and jitter', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 900 }),
        fc.integer({ min: 0, max: 43_200 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, extra, jitter) => {
          const retryMaxSeconds = Math.min(43_200, base + extra);
          const settings = {
            ...config,
            relay: { ...config.relay, retryBaseSeconds: base, retryMaxSeconds },
          };
          const step = Math.min(retryMaxSeconds, base * 2 ** (attempt - 1));
          const delay = backoffSeconds(attempt, settings, () => jitter);
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(step / 2);
          expect(delay).toBeLessThanOrEqual(step);
        },
      ),
      { numRuns: 500 },
    );
  });
});
