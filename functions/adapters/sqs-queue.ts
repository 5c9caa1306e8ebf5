import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { MailJob } from '../core/mail/mail-job';
import { MAX_MAIL_JOB_BYTES, serializeMailJob } from '../core/mail/mail-job';
import type { EnqueueOptions, MailQueue, RelayQueue } from '../core/ports';
import { ATTRIBUTE } from './queue-attributes';

export class MailJobTooLargeError extends Error {
  constructor(bytes: number) {
    super(`mail job is ${bytes} bytes; the limit is ${MAX_MAIL_JOB_BYTES}`);
    this.name = 'MailJobTooLargeError';
  }
}

export class SqsMailQueue implements MailQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async enqueue(job: MailJob, correlationId?: string, options: EnqueueOptions = {}): Promise<void> {
    const body = serializeMailJob(job);
    const bytes = Buffer.byteLength(body);
    if (bytes > MAX_MAIL_JOB_BYTES) throw new MailJobTooLargeError(bytes);
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        ...(options.delaySeconds ? { DelaySeconds: options.delaySeconds } : {}),
        MessageAttributes: {
          [ATTRIBUTE.jobId]: { DataType: 'String', StringValue: job.id },
          ...(job.source.kind === 'api'
            ? {}
            : { [ATTRIBUTE.formId]: { DataType: 'String', StringValue: job.source.formId } }),
          ...(correlationId
            ? { [ATTRIBUTE.correlationId]: { DataType: 'String', StringValue: correlationId } }
            : {}),
        },
      }),
    );
  }

  async ping(): Promise<void> {
    await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
  }
}

export class SqsRelayQueue implements RelayQueue {
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
    details: { reason: string; jobId: string | undefined; correlationId?: string | undefined },
  ): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.deadLetterQueueUrl,
        MessageBody: body,
        MessageAttributes: {
          [ATTRIBUTE.reason]: { DataType: 'String', StringValue: details.reason },
          [ATTRIBUTE.failedAt]: { DataType: 'String', StringValue: new Date().toISOString() },
          ...(details.jobId ? { [ATTRIBUTE.jobId]: { DataType: 'String', StringValue: details.jobId } } : {}),
          // Kept through a redrive, so the redriven attempt logs under the same id.
          ...(details.correlationId
            ? { [ATTRIBUTE.correlationId]: { DataType: 'String', StringValue: details.correlationId } }
            : {}),
        },
      }),
    );
  }
}
