import { describe, expect, it } from 'vitest';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import { type RelayDeps, type RelayRecord, relayBatch } from '../../functions/core/relay/relay';
import { contactJob, JOB_ID, shippedConfig } from '../fakes/config';
import {
  FakeClock,
  MemoryClaimStore,
  MemoryMessageStore,
  MemoryRelayQueue,
  RecordingLog,
  RecordingMetrics,
  ScriptedTransport,
} from '../fakes/ports';

const API_JOB_ID = '6e4d3c2b-1a0f-4e9d-8c7b-7f6e5d4c3b2a';

function setup() {
  return {
    config: shippedConfig(),
    transport: new ScriptedTransport(),
    claims: new MemoryClaimStore(),
    queue: new MemoryRelayQueue(),
    clock: new FakeClock(),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    random: () => 0.5,
    messages: new MemoryMessageStore(),
  } satisfies RelayDeps;
}

function record(receiveCount = 1): RelayRecord {
  return {
    messageId: 'm-1',
    receiptHandle: `rh-${receiveCount}`,
    body: serializeMailJob(contactJob().job),
    receiveCount,
  };
}

describe('Core: relayBatch message status', () => {
  it('records sent with the provider message id, and no sending status on a first attempt', async () => {
    // Prepare
    const deps = setup();

    // Act
    await relayBatch([record()], deps);

    // Assess: one status write for the relay's part of a first attempt
    expect(deps.messages.statuses(JOB_ID)).toEqual(['sent']);
    expect(deps.messages.records.get(JOB_ID)?.history[0]).toMatchObject({
      status: 'sent',
      detail: 'provider-1',
      at: '2025-01-15T12:00:00.000Z',
    });
  });

  it('sends a retry without waiting for its sending status, and still records it before sent', async () => {
    // Prepare: the status store answers a "sending" write only after the provider was called.
    const deps = setup();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const record_ = deps.messages.record.bind(deps.messages);
    deps.messages.record = async (id, change, owner) => {
      if (change.status === 'sending') await held;
      return record_(id, change, owner);
    };
    const send = deps.transport.send.bind(deps.transport);
    deps.transport.send = async (mail) => {
      release();
      return send(mail);
    };

    // Act
    const result = await relayBatch([record(2)], deps);

    // Assess
    expect(result.failures).toEqual([]);
    expect(deps.transport.sent).toHaveLength(1);
    expect(deps.messages.statuses(JOB_ID)).toEqual(['sending', 'sent']);
    expect(deps.messages.records.get(JOB_ID)?.history[0]?.detail).toBe('attempt 2');
  });

  it("records a retry's sending before queued when its send fails while the sending write is slow", async () => {
    // Prepare
    const deps = setup();
    const record_ = deps.messages.record.bind(deps.messages);
    deps.messages.record = async (id, change, owner) => {
      if (change.status === 'sending') await new Promise((resolve) => setTimeout(resolve, 20));
      return record_(id, change, owner);
    };
    deps.transport.failNext(
      Object.assign(new Error('Throttling'), {
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      }),
    );

    // Act
    await relayBatch([record(2)], deps);

    // Assess
    expect(deps.messages.statuses(JOB_ID)).toEqual(['sending', 'queued']);
  });

  it('records failed with the reason when the provider rejects the mail for good', async () => {
    // Prepare
    const deps = setup();
    deps.transport.failNext(
      Object.assign(new Error('Email address is not verified'), {
        name: 'MessageRejected',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    // Act
    await relayBatch([record()], deps);

    // Assess
    expect(deps.messages.statuses(JOB_ID)).toEqual(['failed']);
    expect(deps.messages.records.get(JOB_ID)?.history[0]?.detail).toMatch(/^ses MessageRejected/);
  });

  it('puts a transiently failed mail back to queued with the reason, then sent', async () => {
    // Prepare
    const deps = setup();
    deps.transport.failNext(
      Object.assign(new Error('slow down'), {
        name: 'TooManyRequestsException',
        $metadata: { httpStatusCode: 429 },
      }),
    );

    // Act
    await relayBatch([record(1)], deps);
    await relayBatch([record(2)], deps);

    // Assess
    expect(deps.messages.statuses(JOB_ID)).toEqual(['queued', 'sending', 'sent']);
    expect(deps.messages.records.get(JOB_ID)?.history[0]?.detail).toMatch(/^will retry: /);
  });

  it('sends exactly once and deletes the message when every status write fails', async () => {
    // Prepare
    const deps = setup();
    deps.messages.failing = true;

    // Act
    const first = await relayBatch([record(1)], deps);
    const redelivered = await relayBatch([record(2)], deps);

    // Assess
    expect(first.failures).toEqual([]);
    expect(first.outcomes[0]?.outcome).toBe('sent');
    expect(redelivered.outcomes[0]?.outcome).toBe('duplicate');
    expect(deps.transport.sent).toHaveLength(1);
    // The first attempt's one status write (sent) failed; the redelivery writes none.
    expect(
      deps.log.entries.filter((entry) => entry.message === 'could not record the message status'),
    ).toHaveLength(1);
  });

  it('records the owning key of an API job with its statuses, and none for a form job', async () => {
    // Prepare
    const deps = setup();
    const apiJob = {
      ...contactJob().job,
      id: API_JOB_ID,
      source: { kind: 'api' as const, keyId: 'key_main' },
    };
    const apiRecord = { ...record(), messageId: 'm-2', body: serializeMailJob(apiJob) };

    // Act
    await relayBatch([record(), apiRecord], deps);

    // Assess
    expect(deps.messages.statuses(API_JOB_ID)).toEqual(['sent']);
    expect(deps.messages.records.get(API_JOB_ID)?.keyId).toBe('key_main');
    expect(deps.messages.records.get(JOB_ID)?.keyId).toBeUndefined();
  });

  it('writes no status for a duplicate delivery', async () => {
    // Prepare
    const deps = setup();
    await relayBatch([record(1)], deps);

    // Act
    await relayBatch([record(2)], deps);

    // Assess
    expect(deps.messages.statuses(JOB_ID)).toEqual(['sent']);
  });
});
