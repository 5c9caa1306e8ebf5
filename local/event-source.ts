import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { errorName } from '../functions/core/errors';
import type { Log } from '../functions/core/ports';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface EventSourceOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly batchSize: number;
  /** Pollers running at once, like the event source mapping's maximum concurrency. */
  readonly concurrency: number;
  readonly handler: SqsHandler;
  readonly context: () => Context;
  readonly log: Log;
  /**
   * Overrides the queue's visibility timeout for the messages this poller receives. A relay that dies
   * holding a batch leaves it invisible this long; the chaos harness, which kills relays, keeps it short.
   * @default the queue's VisibilityTimeout
   */
  readonly visibilityTimeoutSeconds?: number | undefined;
}

/**
 * Does locally what Lambda's SQS event source mapping does on AWS: long-polls the queue, invokes the
 * handler with a batch, deletes the records that succeeded, and leaves the batchItemFailures (and, when
 * the handler throws, the whole batch) on the queue to come back after their visibility timeout.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
 */
export function startEventSource(options: EventSourceOptions): { stop(): Promise<void> } {
  const abort = new AbortController();
  const deletes = new Set<Promise<void>>();
  const loops = Array.from({ length: options.concurrency }, () => pollLoop(options, abort.signal, deletes));
  return {
    async stop() {
      abort.abort();
      await Promise.allSettled(loops);
      await Promise.allSettled([...deletes]);
    },
  };
}

async function pollLoop(
  options: EventSourceOptions,
  signal: AbortSignal,
  deletes: Set<Promise<void>>,
): Promise<void> {
  while (!signal.aborted) {
    let messages: Message[];
    try {
      const received = await options.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: options.queueUrl,
          MaxNumberOfMessages: options.batchSize,
          WaitTimeSeconds: 20,
          VisibilityTimeout: options.visibilityTimeoutSeconds,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
        { abortSignal: signal },
      );
      messages = received.Messages ?? [];
    } catch (error) {
      if (signal.aborted) return;
      options.log.error('receive failed', { error: errorName(error) });
      await sleep(1000);
      continue;
    }
    if (messages.length === 0) continue;
    const processed = await invoke(options, messages);
    if (processed.length === 0) continue;
    // The next poll need not wait for the delete: the processed messages stay invisible for the visibility
    // timeout, far longer than a delete takes.
    const deleting = deleteProcessed(options, processed)
      .catch((error: unknown) =>
        // Undeleted messages come back after their visibility timeout; the relay will not send them twice.
        options.log.error('deleting processed messages failed', { error: errorName(error) }),
      )
      .finally(() => deletes.delete(deleting));
    deletes.add(deleting);
  }
}

/** Invokes the handler with a batch; returns the records to delete. */
async function invoke(options: EventSourceOptions, messages: Message[]): Promise<SQSRecord[]> {
  const records = messages.map((message) => toRecord(message, options));
  let failed: Set<string>;
  try {
    const response = await options.handler({ Records: records }, options.context());
    failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
  } catch (error) {
    // A thrown handler fails the whole batch: nothing is deleted.
    options.log.error('relay handler threw; the batch stays on the queue', { error: errorName(error) });
    return [];
  }
  return records.filter((record) => !failed.has(record.messageId));
}

async function deleteProcessed(options: EventSourceOptions, done: SQSRecord[]): Promise<void> {
  const result = await options.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: options.queueUrl,
      Entries: done.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
    }),
  );
  if (result.Failed && result.Failed.length > 0) {
    options.log.warn('some processed messages could not be deleted', { count: result.Failed.length });
  }
}

function toRecord(message: Message, options: EventSourceOptions): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        { stringValue: value.StringValue, dataType: value.DataType ?? 'String' },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.queueArn,
    awsRegion: options.region,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
