import { randomUUID } from 'node:crypto';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SesTransport } from '../functions/adapters/ses-transport';
import type { PostroomConfig } from '../functions/core/config/config';
import { buildFormMailJob } from '../functions/core/forms/form-mail';
import { validateSubmission } from '../functions/core/forms/form-submission';
import { serializeMailJob } from '../functions/core/mail/mail-job';
import type { Log } from '../functions/core/ports';
import { compileTemplates, evaluateTemplates } from '../infra/templates';
import { localConfig, readPostroomContext } from '../local/config-file';
import { startLocalStack } from '../local/stack';
import { startThrottledSesPeer } from '../test/support/throttled-ses-peer';
import type { BenchSection } from './section';
import { waitFor } from './section';

/**
 * The relay against a provider limited to R mails a second (an SES v2-like peer answering 429
 * TooManyRequestsException above R in any one-second window), with a backlog of mail on the queue: once
 * paced with relay.maxSendRate = R, and once not paced, in the same run.
 */

const RATE = 25;
const MAILS = 300;

class OutcomeCount implements Log {
  sent = new Set<string>();
  duplicates = 0;
  retries = 0;
  deadLettered = 0;
  info(_message: string, attributes: Record<string, unknown> = {}) {
    if (attributes.outcome !== 'sent' || typeof attributes.jobId !== 'string') return;
    if (this.sent.has(attributes.jobId)) this.duplicates += 1;
    this.sent.add(attributes.jobId);
  }
  warn(_message: string, attributes: Record<string, unknown> = {}) {
    if (attributes.outcome === 'retry') this.retries += 1;
    if (attributes.outcome === 'dead-lettered') this.deadLettered += 1;
  }
  error() {}
}

interface PacingRun {
  achievedPerSecond: number;
  throttles: number;
  retries: number;
  deadLettered: number;
  lost: number;
  duplicates: number;
}

async function relayBacklog(maxSendRate: number | undefined): Promise<PacingRun> {
  const shipped = readPostroomContext('cdk.json') as { relay: Record<string, unknown> };
  const config = localConfig(
    // Short backoff so the unpaced run's throttled mail comes back within the bench.
    { ...shipped, relay: { ...shipped.relay, retryBaseSeconds: 1, retryMaxSeconds: 2, maxSendRate } },
    {},
  );
  const peer = await startThrottledSesPeer({ ratePerSecond: RATE });
  const log = new OutcomeCount();
  // No SDK retries: every throttle reaches the relay and is counted once by the peer.
  const ses = new SESv2Client({
    region: config.region,
    endpoint: peer.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const stack = await startLocalStack({
    config,
    ports: { api: 0, ses: 0, sqs: 0, dynamodb: 0 },
    log,
    transport: new SesTransport(ses),
  });
  const sqs = new SQSClient({
    region: config.region,
    endpoint: stack.endpoints.sqs,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const bodies = mailJobs(config, MAILS);
    for (let i = 0; i < bodies.length; i += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: stack.resources.queueUrl,
          Entries: bodies.slice(i, i + 10).map((body, n) => ({ Id: String(n), MessageBody: body })),
        }),
      );
    }
    await waitFor(() => log.sent.size + log.deadLettered >= MAILS, 60_000);
    const first = peer.accepted[0] ?? 0;
    const last = peer.accepted.at(-1) ?? 0;
    return {
      achievedPerSecond: ((peer.accepted.length - 1) * 1000) / (last - first),
      throttles: peer.throttled,
      retries: log.retries,
      deadLettered: log.deadLettered,
      lost: MAILS - log.sent.size - log.deadLettered,
      duplicates: log.duplicates + (peer.jobIds.length - new Set(peer.jobIds).size),
    };
  } finally {
    sqs.destroy();
    await stack.stop();
    await peer.close();
  }
}

function mailJobs(config: PostroomConfig, count: number): string[] {
  const form = config.forms[0];
  const templates = evaluateTemplates(compileTemplates());
  if (!form) throw new Error('the shipped configuration has no form');
  return Array.from({ length: count }, (_, i) => {
    const submission = validateSubmission(
      [
        ['name', `Paced ${i}`],
        ['email', `paced${i}@example.com`],
        ['message', `Pacing benchmark ${i}`],
      ],
      form,
    );
    return serializeMailJob(
      buildFormMailJob(config, form, submission, { id: randomUUID(), createdAt: new Date() }, [], templates),
    );
  });
}

export async function run(): Promise<BenchSection> {
  const paced = await relayBacklog(RATE);
  const unpaced = await relayBacklog(undefined);
  const ratio = paced.achievedPerSecond / RATE;
  return {
    title: `Pacing: relay against a provider limited to ${RATE} mails/s (429 above it), ${MAILS} queued mails`,
    rows: [
      {
        metric: 'paced: achieved rate / provider limit',
        value: round(ratio, 3),
        unit: 'x',
        target: '>= 0.95',
        pass: ratio >= 0.95,
      },
      { metric: 'paced: achieved rate', value: round(paced.achievedPerSecond, 1), unit: 'msg/s' },
      {
        metric: 'paced: throttled by the provider',
        value: paced.throttles,
        unit: 'req',
        target: '0',
        pass: paced.throttles === 0,
      },
      {
        metric: 'paced: lost / sent twice',
        value: paced.lost + paced.duplicates,
        unit: 'msg',
        target: '0',
        pass: paced.lost + paced.duplicates === 0 && paced.deadLettered === 0,
      },
      { metric: 'unpaced: throttled by the provider', value: unpaced.throttles, unit: 'req' },
      { metric: 'unpaced: relay retries', value: unpaced.retries, unit: 'msg' },
      { metric: 'unpaced: dead-lettered after retries', value: unpaced.deadLettered, unit: 'msg' },
      {
        metric: 'unpaced: achieved rate / provider limit',
        value: round(unpaced.achievedPerSecond / RATE, 3),
        unit: 'x',
      },
    ],
    notes: [
      'relay.maxSendRate is for the whole stack; on AWS each relay invocation paces at maxSendRate / queue.maxConcurrency',
    ],
  };
}

function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
