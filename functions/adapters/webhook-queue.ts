import type { SQSClient } from '@aws-sdk/client-sqs';
import type { WebhookQueue } from '../core/webhooks/publish';

/**
 * The webhook queue, loaded with the first event: a producer (relay, events) whose batch raises no event
 * loads neither the SQS client nor its commands at cold start. The promise is kept: one queue per container.
 */
export function webhookQueueOnFirstUse(
  client: () => SQSClient | Promise<SQSClient>,
  queueUrl: string,
): WebhookQueue {
  let queue: Promise<WebhookQueue> | undefined;
  return {
    enqueue: async (messages) => {
      queue ??= Promise.all([client(), import('./sqs-webhook-queue')]).then(
        ([sqs, { SqsWebhookQueue }]) => new SqsWebhookQueue(sqs, queueUrl),
      );
      return (await queue).enqueue(messages);
    },
  };
}
