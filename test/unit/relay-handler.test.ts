import type { Context, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import type { RelayDeps } from '../../functions/core/relay/relay';
import { createRelayHandler } from '../../functions/relay/app';
import { configWith, contactJob, JOB_ID } from '../fakes/config';
import {
  FakeClock,
  MemoryClaimStore,
  MemoryRelayQueue,
  RecordingLog,
  RecordingMetrics,
  ScriptedTransport,
} from '../fakes/ports';

function event(): SQSEvent {
  return {
    Records: [
      {
        messageId: 'm-1',
        receiptHandle: 'rh-1',
        body: serializeMailJob(contactJob(undefined, JOB_ID).job),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: '0',
          SenderId: 'local',
          ApproximateFirstReceiveTimestamp: '0',
        },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:postroom-mail',
        awsRegion: 'us-east-1',
      },
    ],
  };
}

/** A Lambda context whose remaining time answers each call from a list (then its last value). */
function contextWithRemaining(...answers: number[]): Context {
  let call = 0;
  return {
    getRemainingTimeInMillis: () => answers[Math.min(call++, answers.length - 1)] ?? 0,
  } as unknown as Context;
}

function deps(transport: ScriptedTransport, clock = new FakeClock()) {
  return {
    config: configWith({}),
    transport,
    claims: new MemoryClaimStore(),
    queue: new MemoryRelayQueue(),
    clock,
    log: new RecordingLog(),
    metrics: new RecordingMetrics(),
    random: () => 0.5,
  } satisfies RelayDeps;
}

describe('Relay handler: the invocation deadline', () => {
  it('never answers while a send is in flight, even past the deadline middy would answer at', async () => {
    // Prepare: 2.05 s left, so the send may start (the relay's clock stands still: it starts at once); middy's
    // early answer, were it on, would come 5 ms before the end. The provider takes 2.2 s.
    const transport = new ScriptedTransport();
    const send = transport.send.bind(transport);
    transport.send = async (mail) => {
      await new Promise((resolve) => setTimeout(resolve, 2_200));
      return send(mail);
    };
    const handler = createRelayHandler(deps(transport));

    // Act
    const response = await handler(event(), contextWithRemaining(2_050));

    // Assess: the handler waited for the send and reported nothing to retry
    expect(response).toEqual({ batchItemFailures: [] });
    expect(transport.sent).toHaveLength(1);
  });

  it('starts no send when the invocation is within its last seconds: the record is retried', async () => {
    // Prepare
    const transport = new ScriptedTransport();
    const relayDeps = deps(transport);
    const handler = createRelayHandler(relayDeps);

    // Act
    const response = await handler(event(), contextWithRemaining(1_000));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm-1' }] });
    expect(transport.attempts).toHaveLength(0);
    expect(relayDeps.queue.retries).toHaveLength(1);
  });
});
