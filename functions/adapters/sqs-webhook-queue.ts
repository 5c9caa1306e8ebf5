import {
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { WebhookDispatchQueue } from '../core/webhooks/dispatch';
import type { WebhookQueue } from '../core/webhooks/publish';
import { serializeWebhookMessage, type WebhookMessage } from '../core/webhooks/webhook-event';
import { ATTRIBUTE } from './queue-attributes';

export class WebhookEnqueueError extends Error {
  constructor(failed: number) {
    super(`${failed} webhook messages were not queued`);
    this.name = 'WebhookEnqueueError';
  }
}

/** The producers' side of the webhook queue: one message per endpoint, sent in batches of ten (SQS's most). */
export class SqsWebhookQueue implements WebhookQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(messages: ReadonlyArray<WebhookMessage>): Promise<void> {
    for (let start = 0; start < messages.length; start += 10) {
      const chunk = messages.slice(start, start + 10);
      const result = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((message, index) => ({
            Id: String(index),
            MessageBody: serializeWebhookMessage(message),
            MessageAttributes: {
              [ATTRIBUTE.webhookEventId]: { DataType: 'String', StringValue: message.id },
              [ATTRIBUTE.webhookEndpointId]: { DataType: 'String', StringValue: message.endpointId },
            },
          })),
        }),
      );
      if ((result.Failed ?? []).length > 0) throw new WebhookEnqueueError(result.Failed?.length ?? 0);
    }
  }
}

/** The dispatcher's side: hide a message until its next attempt, or dead-letter it with the reason. */
export class SqsWebhookDispatchQueue implements WebhookDispatchQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly deadLetterQueueUrl: string,
  ) {}

  async retryLater(receiptHandle: string, delaySeconds: number): Promise<void> {
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: this.queueUrl,
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: delaySeconds,
      }),
    );
  }

  async deadLetter(
    body: string,
    details: { reason: string; eventId?: string; endpointId?: string },
  ): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterQueueUrl,
        MessageBody: body,
        MessageAttributes: {
          [ATTRIBUTE.reason]: { DataType: 'String', StringValue: details.reason },
          [ATTRIBUTE.failedAt]: { DataType: 'String', StringValue: new Date().toISOString() },
          ...(details.eventId
            ? { [ATTRIBUTE.webhookEventId]: { DataType: 'String', StringValue: details.eventId } }
            : {}),
          ...(details.endpointId
            ? { [ATTRIBUTE.webhookEndpointId]: { DataType: 'String', StringValue: details.endpointId } }
            : {}),
        },
      }),
    );
  }
}
