import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import type { MailJob } from '../../functions/core/mail/mail-job';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import { type RelayDeps, type RelayRecord, relayBatch } from '../../functions/core/relay/relay';
import { contactJob, JOB_ID, shippedConfig } from '../fakes/config';
import {
  FakeClock,
  MemoryBlobStore,
  MemoryClaimStore,
  MemoryRelayQueue,
  RecordingLog,
  RecordingMetrics,
  ScriptedTransport,
} from '../fakes/ports';
import { sampleFile } from '../support/multipart';

const KEY = `attachments/${JOB_ID}/0`;
const PDF = sampleFile('pdf', 200_000);

function setup(withBlobs = true) {
  const blobs = new MemoryBlobStore();
  const deps = {
    config: shippedConfig(),
    transport: new ScriptedTransport(),
    claims: new MemoryClaimStore(),
    queue: new MemoryRelayQueue(),
    clock: new FakeClock(),
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    random: () => 0.5,
    ...(withBlobs ? { blobs } : {}),
  } satisfies RelayDeps;
  return { deps, blobs };
}

function recordOf(receiveCount = 1): RelayRecord {
  const job: MailJob = {
    ...contactJob().job,
    attachments: [
      { filename: 'plans.pdf', contentType: 'application/pdf', size: PDF.length, blob: { key: KEY } },
    ],
  };
  return {
    messageId: 'msg-1',
    receiptHandle: `rh-${receiveCount}`,
    body: serializeMailJob(job),
    receiveCount,
  };
}

describe('Core: relayBatch with bucket attachments', () => {
  it('fetches the file from the bucket and sends it attached, byte for byte', async () => {
    // Prepare
    const { deps, blobs } = setup();
    await blobs.put(KEY, PDF, 'application/pdf');

    // Act
    const result = await relayBatch([recordOf()], deps);

    // Assess
    expect(result.failures).toEqual([]);
    expect(result.outcomes[0]?.outcome).toBe('sent');
    const parsed = await simpleParser(deps.transport.sent[0]?.raw ?? Buffer.alloc(0));
    expect(parsed.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      ['plans.pdf', 'application/pdf'],
    ]);
    expect(parsed.attachments[0]?.content.equals(PDF)).toBe(true);
  });

  it('dead-letters the job with "attachment missing" when the object is gone', async () => {
    const { deps } = setup();

    const result = await relayBatch([recordOf()], deps);

    expect(result.outcomes[0]?.outcome).toBe('dead-lettered');
    expect(result.failures).toEqual([]);
    expect(deps.queue.deadLetters.map((letter) => letter.reason)).toEqual(['attachment missing']);
    expect(deps.transport.attempts).toEqual([]);
    expect(deps.claims.records.get(JOB_ID)?.state).toBe('failed');
  });

  it('retries later when the bucket cannot be read, releasing the claim', async () => {
    const { deps, blobs } = setup();
    await blobs.put(KEY, PDF, 'application/pdf');
    blobs.failures.get = Object.assign(new Error('slow down'), { name: 'SlowDown' });

    const result = await relayBatch([recordOf()], deps);

    expect(result.failures).toEqual(['msg-1']);
    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(deps.claims.records.get(JOB_ID)).toMatchObject({
      state: 'retry',
      reason: 'attachment fetch failed: SlowDown',
    });
    expect(deps.queue.deadLetters).toEqual([]);
    expect(deps.transport.attempts).toEqual([]);
  });

  it('dead-letters a job whose fetched object is not the size the job states', async () => {
    const { deps, blobs } = setup();
    await blobs.put(KEY, PDF.subarray(0, 1_000), 'application/pdf');

    await relayBatch([recordOf()], deps);

    expect(deps.queue.deadLetters.map((letter) => letter.reason)).toEqual(['attachment size mismatch']);
  });

  it('retries a job with bucket attachments on a relay that has no bucket configured', async () => {
    const { deps } = setup(false);

    const result = await relayBatch([recordOf()], deps);

    expect(result.outcomes[0]?.outcome).toBe('retry');
    expect(deps.claims.records.get(JOB_ID)?.reason).toBe('attachment store not configured');
  });
});
