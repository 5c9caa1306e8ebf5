import type { SQSClient } from '@aws-sdk/client-sqs';
import type { RelayQueue } from '../core/ports';

/**
 * The relay's queue, loaded with its first retry or dead letter rather than at cold start. A batch whose
 * mails are all sent needs no SQS call from the relay (the event source mapping deletes what the relay
 * reports done), so the SQS client and its commands are not in the relay's cold start. `client` gives the
 * SQS client then; the promise is kept, so a container creates it once.
 */
export function relayQueueOnFirstUse(
  client: () => SQSClient | Promise<SQSClient>,
  urls: { queueUrl: string; deadLetterQueueUrl: string },
): RelayQueue {
  let queue: Promise<RelayQueue> | undefined;
  const loaded = () => {
    queue ??= Promise.all([client(), import('./sqs-queue')]).then(
      ([sqs, { SqsRelayQueue }]) => new SqsRelayQueue(sqs, urls.queueUrl, urls.deadLetterQueueUrl),
    );
    return queue;
  };
  return {
    retryLater: async (receiptHandle, delaySeconds) =>
      (await loaded()).retryLater(receiptHandle, delaySeconds),
    deadLetter: async (body, details) => (await loaded()).deadLetter(body, details),
  };
}
