import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type DispatchDeps, dispatchBatch } from '../core/webhooks/dispatch';

/**
 * The webhook dispatcher: an SQS batch in, partial batch failures out. A record reported failed has had its
 * visibility set to the next attempt's delay (the retry schedule); the rest Lambda deletes. Needs
 * ReportBatchItemFailures on the event source mapping.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
 */
export function createWebhooksHandler(deps: DispatchDeps) {
  return middy<SQSEvent, SQSBatchResponse>().handler(async (event) => {
    const result = await dispatchBatch(
      event.Records.map((record) => ({
        messageId: record.messageId,
        receiptHandle: record.receiptHandle,
        body: record.body,
        receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
      })),
      deps,
    );
    return { batchItemFailures: result.failures.map((itemIdentifier) => ({ itemIdentifier })) };
  });
}
