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
  // No early answer at the deadline (middy's timeoutEarly): a handler that answered while sends were still
  // in flight would leave them to resume when Lambda thaws the environment for a later invocation, after
  // the claim's lease, when a redelivery may have sent the mail already. The relay starts no send near the
  // end instead, and one still running at the timeout is cut by Lambda with the environment (the crash
  // window, docs/reliability.md).
  return middy<SQSEvent, SQSBatchResponse>({ timeoutEarlyInMillis: 0 }).handler(async (event, context) => {
    const records: RelayRecord[] = event.Records.map((record) => ({
      messageId: record.messageId,
      receiptHandle: record.receiptHandle,
      body: record.body,
      receiveCount: Number(record.attributes.ApproximateReceiveCount) || 1,
      correlationId: record.messageAttributes?.[ATTRIBUTE.correlationId]?.stringValue,
    }));
    const remaining = context.getRemainingTimeInMillis?.();
    const result = await relayBatch(
      records,
      deps,
      remaining === undefined ? undefined : { endsAtMs: deps.clock.now() + remaining },
    );
    return { batchItemFailures: result.failures.map((itemIdentifier) => ({ itemIdentifier })) };
  });
}
