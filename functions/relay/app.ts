import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ATTRIBUTE } from '../adapters/queue-attributes';
import { type RelayDeps, type RelayRecord, relayBatch } from '../core/relay/relay';

/**
 * The relay function: an SQS batch in, partial batch failures out. Only records that may be retried are
 * reported; Lambda deletes the rest. Needs ReportBatchItemFailures on the event source mapping.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting
 */
export function createRelayHandler(deps: RelayDeps) {
  return middy<SQSEvent, SQSBatchResponse>().handler(async (event) => {
    const records: RelayRecord[] = event.Records.map((record) => ({
      messageId: record.messageId,
      receiptHandle: record.receiptHandle,
      body: record.body,
      receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
      correlationId: record.messageAttributes?.[ATTRIBUTE.correlationId]?.stringValue,
    }));
    const result = await relayBatch(records, deps);
    return { batchItemFailures: result.failures.map((itemIdentifier) => ({ itemIdentifier })) };
  });
}
